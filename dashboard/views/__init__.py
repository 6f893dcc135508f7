"""The dashboard's views, one module per area. Each parses input, calls the services and selectors the API
calls, and renders a template; `dashboard.access.member_view` checks the role of every one of them."""
