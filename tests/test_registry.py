"""The ``register`` decorator builds registry entries the way the old factories did."""

import pytest
from sklearn.linear_model import LogisticRegression

from domainadapt.feature import CORAL, TCA
from domainadapt.model import CDAN
from domainadapt.registry import _REGISTRY, get_adapter, get_adapters, register


@pytest.fixture
def scratch_names():
    names: list[str] = []
    yield names
    for name in names:
        _REGISTRY.pop(name, None)


def test_register_returns_the_class_and_seeds_only_seeded_classes(scratch_names):
    scratch_names += ["_test_tca", "_test_coral"]
    assert register("_test_tca", "feature", "TCA again", benchmark=False)(TCA) is TCA
    register("_test_coral", "feature", "CORAL again", contract=False)(CORAL)

    tca = get_adapter("_test_tca").make(LogisticRegression(), 5)
    assert isinstance(tca, TCA) and tca.random_state == 5
    assert isinstance(tca.estimator, LogisticRegression)
    coral = get_adapter("_test_coral").make(LogisticRegression(), 5)  # CORAL takes no seed
    assert isinstance(coral, CORAL)
    assert [e.name for e in get_adapters("feature", benchmark=False)].count("_test_tca") == 1
    assert "_test_coral" not in [e.name for e in get_adapters(contract=True)]


def test_register_fixes_params_and_silences_progress(scratch_names):
    scratch_names.append("_test_cdan_e")
    register("_test_cdan_e", "model", params={"entropy": True},
             test_params={"n_epochs": 2})(CDAN)
    entry = get_adapter("_test_cdan_e")
    cdan = entry.make(None, 1)
    assert cdan.entropy is True and cdan.progress is False and cdan.random_state == 1
    assert entry.make_for_tests(None, 1).n_epochs == 2


def test_register_takes_a_factory_but_not_params_with_it(scratch_names):
    scratch_names.append("_test_factory")
    register("_test_factory", "feature")(lambda estimator, random_state: CORAL(estimator))
    assert isinstance(get_adapter("_test_factory").make(), CORAL)
    with pytest.raises(TypeError, match="params"):
        register("_test_factory", "feature", params={"x": 1})(lambda e, r: CORAL(e))
    with pytest.raises(ValueError, match="family"):
        register("_test_factory", "no-such-family")(CORAL)
