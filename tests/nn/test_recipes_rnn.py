"""The RNN recipes: registered with the others, their model reads image rows as a sequence, and
a short rnn-digits run learns (full runs and their accuracy: recipes_rnn.py, the closing notes)."""

import numpy as np
import pytest

import axonal
from axonal.training.recipes import RECIPES, run_recipe
from axonal.training.recipes_rnn import RNN_RECIPES, row_lstm


def test_rnn_recipes_are_registered():
    for name in ("rnn-digits", "rnn-mnist"):
        assert RECIPES[name] is RNN_RECIPES[name] and RECIPES[name].model is row_lstm
    assert RECIPES["rnn-mnist"].needs_data_dir
    with pytest.raises(ValueError, match="--data-dir DIR is required"):
        run_recipe("rnn-mnist", verbose=False)


@pytest.mark.parametrize("shape, hidden", [((1, 8, 8), 64), ((1, 28, 28), 128), ((3, 5, 4), 64)])
def test_model_reads_rows(shape, hidden):
    net = row_lstm(shape, 10)
    assert net.rnn.input_size == shape[0] * shape[2] and net.rnn.hidden_size == hidden
    x = axonal.randn(3, *shape)
    assert net(x).shape == (3, 10)
    # the rows are the time steps: the same rows in reverse order score differently
    flipped = axonal.tensor(np.ascontiguousarray(x.numpy()[:, :, ::-1]))
    assert not np.allclose(net(x).numpy(), net(flipped).numpy())


def test_rnn_digits_short_run_learns():
    res = run_recipe("rnn-digits", epochs=4, seed=0, verbose=False)
    assert res["recipe"] == "rnn-digits" and res["epochs_run"] <= 4
    assert res["test_accuracy"] >= 0.85, res  # chance is 0.1
