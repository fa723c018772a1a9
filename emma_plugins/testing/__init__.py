"""Conformance kits that plugin authors run on their own components, one module per family.

Like scikit-learn's estimator checks, each ``check_*`` function tests one rule of a
family's contract (`emma_plugins.core.contracts`) and raises ``AssertionError`` with a
message that says what is wrong and how to fix it:

=================  ==========================  =================================
family             module                      run every check
=================  ==========================  =================================
``estimator``      `.estimator`                `check_estimator`, `check_registered_estimator`
``correction``     `.correction`               `check_correction`, `check_registered_correction`
``modal_energy``   `.modal_energy`             `check_modal_energy`, ...
``importance``     `.importance`               `check_importance`, ...
``gate``           `.gate`                     `check_gate`, `check_registered_gate`
``endogenous``     `.endogenous`               `check_endogenous`, ...
``cross_modal``    `.cross_modal`              `check_cross_modal`, ...
``network``        `.network`                  `check_network`, `check_registered_network`
``corruption``     `.corruption`               `check_corruption`, ...
``dataset``        `.dataset`                  `check_dataset`, `check_registered_dataset`
=================  ==========================  =================================

`parametrize_with_checks` turns every check of every installed kind into a pytest case;
`emma_plugins.testing.samples` documents how a kind declares its sample shape and fast
parameters (``conformance_shape``, ``conformance_params``).
"""

from emma_plugins.testing.correction import check_correction, check_registered_correction
from emma_plugins.testing.corruption import check_corruption, check_registered_corruption
from emma_plugins.testing.cross_modal import check_cross_modal, check_registered_cross_modal
from emma_plugins.testing.dataset import check_dataset, check_registered_dataset
from emma_plugins.testing.endogenous import check_endogenous, check_registered_endogenous
from emma_plugins.testing.estimator import (
    ESTIMATOR_CHECKS,
    check_autocast,
    check_batch_independence,
    check_device_move,
    check_dtype_move,
    check_estimator,
    check_fit,
    check_gradients_flow,
    check_potential,
    check_registered_estimator,
    check_scores,
    check_state_dict_round_trip,
    check_tensors_registered,
    estimator_sample,
    registered_estimator_kinds,
)
from emma_plugins.testing.gate import check_gate, check_registered_gate
from emma_plugins.testing.importance import check_importance, check_registered_importance
from emma_plugins.testing.modal_energy import check_modal_energy, check_registered_modal_energy
from emma_plugins.testing.network import check_network, check_registered_network
from emma_plugins.testing.parametrize import (
    KITS,
    KindCheck,
    KindRef,
    kind_checks,
    parametrize_with_checks,
    registered_kinds,
)

__all__ = [
    "ESTIMATOR_CHECKS",
    "KITS",
    "KindCheck",
    "KindRef",
    "check_autocast",
    "check_batch_independence",
    "check_correction",
    "check_corruption",
    "check_cross_modal",
    "check_dataset",
    "check_device_move",
    "check_dtype_move",
    "check_endogenous",
    "check_estimator",
    "check_fit",
    "check_gate",
    "check_gradients_flow",
    "check_importance",
    "check_modal_energy",
    "check_network",
    "check_potential",
    "check_registered_correction",
    "check_registered_corruption",
    "check_registered_cross_modal",
    "check_registered_dataset",
    "check_registered_endogenous",
    "check_registered_estimator",
    "check_registered_gate",
    "check_registered_importance",
    "check_registered_modal_energy",
    "check_registered_network",
    "check_scores",
    "check_state_dict_round_trip",
    "check_tensors_registered",
    "estimator_sample",
    "kind_checks",
    "parametrize_with_checks",
    "registered_estimator_kinds",
    "registered_kinds",
]
