"""PretrainedFeatures: frozen ImageNet ResNet-18 embeddings, cached by row content, inside a Pipeline."""
import numpy as np
import pytest
import torch
import torchvision
from modAL.models import ActiveLearner
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from tod_plugin import ALNetClassifier
from tod_plugin.errors import ConfigError
from tod_plugin.features import PretrainedFeatures
from tod_plugin.models import MLP
from tod_plugin.strategies import cod_sampling, coreset_sampling, random_sampling

from weights_files import write_resnet18_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_resnet18_weights(tmp_path_factory.mktemp("weights") / "resnet18.pth")


@pytest.fixture(scope="module")
def images():
    return np.random.RandomState(0).randint(0, 256, size=(12, 3, 16, 16), dtype=np.uint8)


def test_features_are_the_backbones_penultimate_vector(weights, images):
    features = PretrainedFeatures(weights=weights, batch_size=5).fit(images)
    out = features.transform(images)
    assert out.shape == (12, 512) and out.dtype == np.float32 and features.n_features_out_ == 512
    reference = torchvision.models.resnet18(weights=None)
    reference.load_state_dict(torch.load(weights, weights_only=True))
    reference.fc = torch.nn.Identity()
    mean, std = torch.tensor([0.485, 0.456, 0.406])[:, None, None], torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    with torch.no_grad():
        expected = reference.eval()((torch.as_tensor(images).float() / 255 - mean) / std)
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-4, atol=1e-4)


def test_each_row_is_computed_once_whatever_subset_or_order_comes(weights, images):
    features = PretrainedFeatures(weights=weights, batch_size=4).fit(images)
    full = features.transform(images)
    assert (features.cache_.computed, features.cache_.reused, len(features.cache_)) == (12, 0, 12)
    subset = features.transform(images[[7, 2, 2, 11]])
    np.testing.assert_array_equal(subset, full[[7, 2, 2, 11]])
    assert (features.cache_.computed, features.cache_.reused) == (12, 4)
    new = np.concatenate([images[:2], 255 - images[:3], 255 - images[:1]])  # 3 new rows, one twice
    out = features.transform(new)
    assert (features.cache_.computed, len(features.cache_)) == (15, 15)
    np.testing.assert_array_equal(out[:2], full[:2])
    np.testing.assert_array_equal(out[5], out[2])
    features.fit(images)  # refitting with the same settings keeps the backbone and the cache
    assert len(features.cache_) == 15
    assert features.clear_cache().cache_ is None and features.transform(images[:1]).shape == (1, 512)


def test_grey_images_are_repeated_to_three_channels(weights, images):
    grey = images[:, 0]
    features = PretrainedFeatures(weights=weights, normalize=None).fit(grey)
    rgb = np.repeat(grey[:, None], 3, axis=1)
    np.testing.assert_allclose(features.transform(grey), features.transform(rgb), rtol=1e-5, atol=1e-5)


def test_image_size_resizes_before_the_backbone(weights, images):
    small = PretrainedFeatures(weights=weights).fit(images).transform(images[:2])
    resized = PretrainedFeatures(weights=weights, image_size=32).fit(images).transform(images[:2])
    assert resized.shape == (2, 512) and not np.allclose(small, resized)


def test_cache_dir_serves_a_later_process_and_survives_damage(weights, images, tmp_path):
    first = PretrainedFeatures(weights=weights, cache_dir=tmp_path).fit(images)
    expected = first.transform(images)
    (folder,) = tmp_path.iterdir()
    keys = np.load(folder / "keys.npy", allow_pickle=False)
    assert keys.shape == (12, 20) and np.load(folder / "features.npy", allow_pickle=False).shape == (12, 512)
    second = PretrainedFeatures(weights=weights, cache_dir=tmp_path).fit(images)
    np.testing.assert_array_equal(second.transform(images[::-1]), expected[::-1])
    assert (second.cache_.computed, second.cache_.reused) == (0, 12)
    other = PretrainedFeatures(weights=weights, cache_dir=tmp_path, image_size=24).fit(images)
    other.transform(images[:1])
    assert len(list(tmp_path.iterdir())) == 2  # other settings, another folder
    np.save(folder / "keys.npy", np.array([{"not": "keys"}], dtype=object), allow_pickle=True)
    third = PretrainedFeatures(weights=weights, cache_dir=tmp_path).fit(images)
    with pytest.warns(UserWarning, match="unreadable"):
        np.testing.assert_array_equal(third.transform(images), expected)
    assert third.cache_.computed == 12


def test_a_pipeline_with_an_mlp_head_is_queried_like_any_pipeline(weights, digits):
    X = np.repeat(digits.X_train[:120], 3, axis=1)
    features = PretrainedFeatures(weights=weights, batch_size=64)
    pipe = Pipeline([("features", features),
                     ("net", ALNetClassifier(MLP, classes=np.arange(10), max_epochs=2, random_state=0, device="cpu"))])
    learner = ActiveLearner(estimator=pipe, query_strategy=cod_sampling, X_training=X[:40], y_training=digits.y_train[:40])
    pool, pool_y = X[40:], digits.y_train[40:120]
    for strategy in (cod_sampling, coreset_sampling, random_sampling):
        picked = strategy(learner, pool, n_instances=5, random_state=0)
        picked = np.asarray(picked[0] if isinstance(picked, tuple) else picked)
        assert len(set(picked.tolist())) == 5
        learner.teach(pool[picked], pool_y[picked])
        pool, pool_y = np.delete(pool, picked, axis=0), np.delete(pool_y, picked)
    assert features.cache_.computed == 120  # the pool's features were computed once, not per query or fit
    assert 0.0 <= learner.score(X[:20], digits.y_train[:20]) <= 1.0


def test_progress_bar_for_long_pools(weights, images, capsys):
    PretrainedFeatures(weights=weights, progress=True).fit(images).transform(images)
    assert "pretrained features" in capsys.readouterr().err
    PretrainedFeatures(weights=weights).fit(images).transform(images)  # "auto": not for 12 rows
    assert "pretrained features" not in capsys.readouterr().err


def test_parameters_clone_and_bad_input(weights, images):
    features = PretrainedFeatures(weights=weights, batch_size=8)
    assert clone(features).get_params()["batch_size"] == 8
    for params, message in (({}, "weights: give the path"), ({"weights": weights, "model": "vgg"}, "model must be one of"),
                            ({"weights": weights, "batch_size": 0}, "batch_size must be a positive int"),
                            ({"weights": weights, "image_size": 2.5}, "image_size must be None or a positive int"),
                            ({"weights": weights, "normalize": (1, 2)}, "normalize must be"),
                            ({"weights": weights, "progress": "yes"}, "progress must be"),
                            ({"weights": weights.parent / "absent.pth"}, "pretrained: no file")):
        with pytest.raises(ConfigError, match=message):
            PretrainedFeatures(**params).fit(images)
    fitted = PretrainedFeatures(weights=weights).fit(images)
    for X, message in ((images[:, :2], r"C = 1 or 3"), (images[:0], "empty"), (images.astype(np.int32), "uint8 or float"),
                       (np.full((1, 3, 4, 4), np.nan), "NaN")):
        with pytest.raises(ConfigError, match=message):
            fitted.transform(X)
    with pytest.raises(Exception, match="not fitted"):
        PretrainedFeatures(weights=weights).transform(images)
