import numpy as np
import pytest
from PIL import Image

from keras_bigmodels.insight.plots import image_grid, save_image_grid


def test_grid_places_each_image_and_maps_the_value_range():
    images = np.stack([np.full((2, 3, 1), v) for v in (-1.0, 0.0, 1.0)])
    grid = image_grid(images, value_range=(-1, 1), ncols=2, pad=1)
    assert grid.shape == (5, 7, 1) and grid.dtype == np.uint8
    assert (grid[0:2, 0:3] == 0).all()  # -1 -> black
    assert (grid[0:2, 4:7] == 128).all()  # 0 -> mid-grey (127.5 rounds up)
    assert (grid[3:5, 0:3] == 255).all()  # 1 -> white
    assert grid[2, 0, 0] == 128 and grid[0, 3, 0] == 128  # padding


def test_saved_png_is_upscaled_grid(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3))
    path = save_image_grid(images, tmp_path / "g.png", min_cell=16)
    png = np.asarray(Image.open(path))
    assert png.shape == ((2 * 8 + 1) * 2, (2 * 8 + 1) * 2, 3)
    np.testing.assert_array_equal(png[::2, ::2], image_grid(images))


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="images"):
        image_grid(np.zeros((2, 4, 4, 2)))
