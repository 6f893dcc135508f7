from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import receivers
        from campaigns.services import brand_in_use_check
        from core.services import brand_delete_check_register
        from render.selectors import render_group_register
        from render.signals import render_finished

        render_finished.connect(receivers.on_render_finished, dispatch_uid="campaigns.on_render_finished")
        # The render API shows and filters by a render's campaign through this app's link.
        render_group_register(name="campaign", lookup="campaign_link__campaign_id")
        # A brand an unfinished campaign or a CRM integration uses is not deleted (core.services.brand_delete).
        brand_delete_check_register(name="campaigns", check=brand_in_use_check)
