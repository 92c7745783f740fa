"""verbose=0 prints nothing; verbose=1 shows progress for each stage; history_ has per-epoch records."""

from skulmfit import ULMFiTClassifier


def _fit(tiny_lm_path, toy_data, verbose):
    return ULMFiTClassifier(pretrained=tiny_lm_path, device="cpu", lm_epochs=1, epochs=6, batch_size=16, bptt=20,
                            random_state=0, verbose=verbose).fit(*toy_data)


def test_verbose_0_prints_nothing(tiny_lm_path, toy_data, capfd):
    clf = _fit(tiny_lm_path, toy_data, 0)
    clf.predict(toy_data[0])
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_verbose_1_shows_progress_for_every_stage(tiny_lm_path, toy_data, capfd):
    clf = _fit(tiny_lm_path, toy_data, 1)
    err = capfd.readouterr().err
    assert "LM training" in err and "loss=" in err
    n_stages = max(r["unfreeze_stage"] for r in clf.history_ if r["stage"] == "classifier")
    assert n_stages == 4  # gradual unfreezing of 4 groups (embedding, 2 LSTM layers, head)
    for k in range(1, n_stages + 1):
        assert f"stage {k}/{n_stages}" in err
    clf._logits(list(toy_data[0]) * 3, chunk_size=100)  # large input: several chunks
    assert "predict" in capfd.readouterr().err


def test_history_has_per_epoch_records(tiny_lm_path, toy_data):
    clf = _fit(tiny_lm_path, toy_data, 0)
    lm = [r for r in clf.history_ if r["stage"] == "lm"]
    clf_recs = [r for r in clf.history_ if r["stage"] == "classifier"]
    assert len(lm) == 1 and {"train_loss", "tokens", "seconds"} <= set(lm[0])
    assert [r["epoch"] for r in clf_recs] == list(range(1, 7)) and clf.n_iter_ == 6
    assert all({"train_loss", "unfreeze_stage", "trainable_groups", "seconds"} <= set(r) for r in clf_recs)


def test_verbose_shows_validation_score(tiny_lm_path, toy_data, capfd):
    ULMFiTClassifier(pretrained=tiny_lm_path, device="cpu", lm_epochs=0, epochs=2, batch_size=16, bptt=20,
                     random_state=0, verbose=1, early_stopping=True, validation_fraction=0.2).fit(*toy_data)
    assert "valid_score=" in capfd.readouterr().err
