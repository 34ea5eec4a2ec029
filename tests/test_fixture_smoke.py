from transformers import AutoModel, AutoTokenizer


def test_tiny_model_loads_and_embeds(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModel.from_pretrained(tiny_model_dir)
    batch = tok(["free prize call now", "see you at lunch"], padding=True, return_tensors="pt")
    out = model(**batch).last_hidden_state
    assert out.shape[0] == 2 and out.shape[-1] == 32
    assert tok.unk_token_id not in batch["input_ids"][0].tolist()
