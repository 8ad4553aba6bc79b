from transformers import AutoModelForSequenceClassification, AutoTokenizer

from pcc.records import LABELS


def test_tiny_checkpoint_loads_and_tokenizes_chinese_pairs(tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint)
    batch = tokenizer(["要加强队伍建设。"], ["三、对策"], return_tensors="pt")
    assert tokenizer.unk_token_id not in batch["input_ids"][0].tolist()
    assert batch["token_type_ids"][0].max().item() == 1
    assert model(**batch).logits.shape == (1, len(LABELS))
