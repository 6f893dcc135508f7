from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import receivers
        from campaigns.services import brand_in_use_check
        from core.services import brand_delete_check_register
        from render.selectors import render_group_register
        from render.signals import render_finished, watch_engaged

        render_finished.connect(receivers.on_render_finished, dispatch_uid="campaigns.on_render_finished")
        # A watch page's first view / first CTA click: webhooks, and the counts to the CRM (write-back).
        watch_engaged.connect(receivers.on_watch_engaged, dispatch_uid="campaigns.on_watch_engaged")
        # The render API shows and filters by a render's campaign through this app's link.
        render_group_register(name="campaign", lookup="campaign_link__campaign_id")
        # A brand an unfinished campaign or a CRM integration uses is not deleted (core.services.brand_delete).
        brand_delete_check_register(name="campaigns", check=brand_in_use_check)
        # Campaigns' part of a workspace's export and deletion (core.workspace_data).
        from campaigns.workspace_data import campaigns_export, campaigns_purge
        from core.workspace_data import workspace_data_register

        workspace_data_register(name="campaigns", height=3, export=campaigns_export, purge=campaigns_purge)
