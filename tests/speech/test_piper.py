"""Piper voices from a local directory: refused when missing; a tiny ONNX voice with Piper's signature speaks.

The tiny voice is built here with `onnx` (Piper's input/output names and shapes: `input` int64 [1, N],
`input_lengths` int64 [1], `scales` float [3] -> `output` float [1, 1, N*256], optionally a second output
of per-id durations in frames, as `piper.patch_voice_with_alignment` adds). Its audio is the phoneme ids
repeated, not speech, which is enough to check loading, timings and the refusal paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from render.speech import UnsayableTextError, VoiceNotInstalledError
from render.speech.piper import PiperSynthesizer, piper_paths
from render.speech.registry import SpeechSettings, synthesizer_for

HOP = 256  # piper.config.DEFAULT_HOP_LENGTH


def test_missing_voice_names_the_directory(tmp_path: Path) -> None:
    settings = SpeechSettings(voices_dir=tmp_path / "voices", default_voice="espeak-en")
    with pytest.raises(VoiceNotInstalledError, match=str(tmp_path / "voices")):
        synthesizer_for("en_US-lessac-medium", settings=settings)


def _tiny_voice(directory: Path, name: str, *, alignments: bool) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("piper")
    from onnx import TensorProto, helper
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    nodes = [
        helper.make_node("Cast", ["input"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids", "axes"], ["ids3"]),
        helper.make_node("Tile", ["ids3", "repeats"], ["output"]),
    ]
    initializers = [
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("repeats", TensorProto.INT64, [3], [1, 1, HOP]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
    ]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, None])]
    if alignments:
        # One frame per phoneme id: N*HOP samples in all, like the audio.
        nodes += [
            helper.make_node("Shape", ["input"], ["shape"]),
            helper.make_node(
                "ConstantOfShape",
                ["shape"],
                ["durations"],
                value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
            ),
        ]
        outputs.append(helper.make_tensor_value_info("durations", TensorProto.FLOAT, [1, None]))
    graph = helper.make_graph(
        nodes,
        "tiny-piper",
        [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, None]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        outputs,
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(directory / f"{name}.onnx"))
    config = {
        "audio": {"sample_rate": 22050},
        "espeak": {"voice": "en-us"},
        "phoneme_type": "espeak",
        "num_symbols": 256,
        "num_speakers": 1,
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
    }
    (directory / f"{name}.onnx.json").write_text(json.dumps(config))


@pytest.mark.parametrize("alignments", [True, False])
def test_tiny_piper_voice_speaks_with_word_timings(tmp_path: Path, alignments: bool) -> None:
    _tiny_voice(tmp_path, "en_US-lessac-medium", alignments=alignments)
    settings = SpeechSettings(voices_dir=tmp_path, default_voice="espeak-en")
    synthesizer = synthesizer_for("en_US-lessac-medium", settings=settings)
    assert isinstance(synthesizer, PiperSynthesizer)
    speech = synthesizer.synthesize("Hi Jennifer", voice="en_US-lessac-medium", speed=1.0)
    assert speech.sample_rate == 22050
    assert speech.rms() > 0.02
    assert [w.word for w in speech.words] == ["Hi", "Jennifer"]
    first, second = speech.words
    assert 0 < first.start_s < first.end_s <= second.start_s < second.end_s <= speech.duration_s
    # "Jennifer" has more phonemes than "Hi": it lasts longer, with or without alignments.
    assert second.end_s - second.start_s > first.end_s - first.start_s


def test_tiny_piper_voice_refuses_foreign_script(tmp_path: Path) -> None:
    _tiny_voice(tmp_path, "de_DE-thorsten-medium", alignments=False)
    model, config = piper_paths(tmp_path, "de_DE-thorsten-medium")
    synthesizer = PiperSynthesizer(model_path=model, config_path=config)
    with pytest.raises(UnsayableTextError, match="Latin"):
        synthesizer.synthesize("Привет", voice="de_DE-thorsten-medium", speed=1.0)
