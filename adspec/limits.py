"""The spec's limits: what the API accepts, and so what the compositor and the engine must handle.

The validator (`templates/spec.py`) refuses a spec outside these with a message naming the field; the
compositor (`render/compose/validate.py`) checks its plan against the same numbers, so a plan built from
a valid spec is always drawable.
"""

from __future__ import annotations

# Frames: even sides from 64 px to 3840 px, 4K UHD's long side (3840x2160): what docs/api.md promises and
# the API refuses above. The compositor holds to the same bound (it once took up to 4096, H.264 level 5.1's
# widest frame, ITU-T H.264 Table A-1, which no valid spec could reach). Even: yuv420p stores chroma at
# half resolution both ways.
MIN_FRAME_SIDE, MAX_FRAME_SIDE = 64, 3840
MAX_FPS = 60  # the fastest rate ad platforms accept for upload (Meta, TikTok); 9:16 ads are 24-30 fps
DEFAULT_FPS = 30  # a format without fps (and no v1 `format` to take it from): the social-video norm
# 9:16, 1:1, 16:9 and 4:5: the four shapes ad platforms take (Meta, TikTok, YouTube, LinkedIn).
MAX_FORMATS = 4

# An ad is at most 3 minutes (YouTube's non-skippable cap is far below); scenes 0.1 s (3 frames at 30 fps)
# to 60 s.
MIN_SCENE_SECONDS, MAX_SCENE_SECONDS, MAX_TOTAL_SECONDS = 0.1, 60.0, 180.0
MAX_SCENES, MAX_LAYERS, MAX_VARIABLES = 50, 20, 50
MAX_TEXT, MAX_PROMPT, DEFAULT_MAX_LENGTH, MAX_MAX_LENGTH = 500, 1000, 200, 1000
MAX_TRANSITION_SECONDS = 2.0

# Box fractions come from JSON floats: 0.08 + 0.84 may land a hair above 1.
BOX_SLACK = 1e-9
# Outline width, shadow offset, pill padding: fractions of the frame height, at most 1/20 (96 px on
# 1920), far past any tasteful value; the bound keeps a box from being eaten by its own decoration.
# Fractions, so one template looks alike in every format.
MAX_DECORATION = 0.05
# A rectangle's corner radius, a fraction of its box's shorter side: 0.5 makes the short ends round.
MAX_RADIUS = 0.5

MAX_VOLUME = 2.0  # +6 dB: enough to lift a quiet track; more clips mastered music
MAX_AUDIO_FADE_SECONDS = 10.0  # longer than most ads' halves; each fade is capped at half the ad anyway

# Generation. Seeds: torch.Generator.manual_seed takes 64 bits; 32 keep seeds portable across engines.
MAX_SEED = 2**32 - 1
# Design bounds on what a template may ask of a model (the registered models default to 1-50 steps and
# guidance 0-5).
MAX_STEPS = 100
MAX_GUIDANCE = 30.0
# img2img strength: below 0.05 a variant barely differs from its base (and needs a 20+ step schedule to
# run one step); 1.0 repaints it entirely.
MIN_STRENGTH, MAX_STRENGTH = 0.05, 1.0
# A clip is at most twice the length its model was trained on (Wan 2.1: 81 frames, its model card); past
# that it drifts and repeats, and attention over all frames grows with the square of their number.
MAX_CLIP_LENGTH_FACTOR = 2
# An image variable's URL: 2048 characters, the longest URL every browser and CDN accepts (the de facto
# limit since Internet Explorer's 2083).
MAX_URL = 2048
# A watch page's call-to-action label (spec `cta.label`): Google Ads' longest text field, a responsive
# search ad's description, is 90; a button's one line on a phone-width page holds about 40 at 16 px, so 60
# leaves room for a merged name while staying a button, not a paragraph.
MAX_CTA_LABEL = 60
