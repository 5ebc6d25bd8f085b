import pytest

from psrlm import model as models
from psrlm.errors import PsrlmError

CORPUS = [f"Problem: Ann has {i} pens. Step 1: {i} + {i % 7} = {i + i % 7}.\nThe answer is \\boxed{{{i}}}."
          for i in range(300)]


@pytest.fixture(scope="module")
def tok():
    return models.build_tokenizer(CORPUS, 300)


def test_digits_are_single_tokens_and_text_round_trips(tok):
    text = "Step 12: 345 * 6 = 2070.\nStep 13: {x} \\boxed{2070}."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert [t for t in tok.convert_ids_to_tokens(ids) if any(c.isdigit() for c in t)] == [c for c in text if c.isdigit()]


def test_saved_tokenizer_reloads_identically_with_auto_tokenizer(tok, tmp_path):
    from transformers import AutoTokenizer

    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    text = "Ann has 12 pens. Step 1: 12 + 5 = 17."
    assert again(text)["input_ids"] == tok(text)["input_ids"]
    assert again.decode(again(text)["input_ids"]) == text
    assert again.eos_token == "<|end|>" and again.pad_token == "<|pad|>"


def test_chat_template_prompt_is_a_prefix_of_prompt_plus_completion(tok):
    user = [{"role": "user", "content": "Problem: Ann has 3 pens."}]
    prompt = tok.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    full = tok.apply_chat_template(user + [{"role": "assistant", "content": "Step 1: 3 + 1 = 4."}],
                                   tokenize=False)
    assert full.startswith(prompt) and full.endswith("Step 1: 3 + 1 = 4.<|end|>")


def test_missing_local_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PsrlmError, match="model folder not found"):
        models.load(str(tmp_path / "nope"))


def test_unreachable_hub_name_says_offline_and_local_path_works(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PsrlmError, match="offline.*local folder"):
        models.load("psrlm-test/no-such-model")
