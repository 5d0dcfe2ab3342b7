"""The CNN recipes: registered with the MLP ones, their models fit their inputs, and a short
cnn-digits run learns (the full runs and their accuracy figures are in the recipe docs)."""

import pytest

import axonal
from axonal.training.recipes import RECIPES, run_recipe
from axonal.training.recipes_cnn import CNN_RECIPES, digits_cnn, mnist_cnn, mnist_resnet


def test_cnn_recipes_are_registered():
    for name in ("cnn-digits", "cnn-mnist", "resnet-mnist"):
        assert RECIPES[name] is CNN_RECIPES[name]
        assert RECIPES[name].model is not None
    assert RECIPES["cnn-mnist"].needs_data_dir and RECIPES["cnn-mnist"].epochs <= 5


@pytest.mark.parametrize(
    "build, shape", [(digits_cnn, (1, 8, 8)), (mnist_cnn, (1, 28, 28)), (mnist_resnet, (1, 28, 28))]
)
def test_recipe_models_fit_their_inputs(build, shape):
    net = build(shape, 10)
    y = net(axonal.randn(3, *shape))
    assert y.shape == (3, 10)


def test_mnist_recipes_need_a_data_dir():
    with pytest.raises(ValueError, match="--data-dir DIR is required"):
        run_recipe("cnn-mnist", verbose=False)


def test_cnn_digits_short_run_learns():
    res = run_recipe("cnn-digits", epochs=3, seed=0, verbose=False)
    assert res["recipe"] == "cnn-digits" and res["epochs_run"] <= 3
    # 10 classes: chance is 0.1; three one-cycle epochs already reach ~0.98
    assert res["test_accuracy"] >= 0.9, res
