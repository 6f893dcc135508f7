from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self) -> None:
        from campaigns import receivers
        from render.selectors import render_group_register
        from render.signals import render_finished

        render_finished.connect(receivers.on_render_finished, dispatch_uid="campaigns.on_render_finished")
        # The render API shows and filters by a render's campaign through this app's link.
        render_group_register(name="campaign", lookup="campaign_link__campaign_id")
