"""Benchmark data sets and synthetic domain-shift generators.

Real data (four ``.npz`` files, conversions of public sources; see
:data:`REGISTRY` for origin, citation and checksum of each):

* :func:`load_mnist_usps_jda`: the MNIST/USPS subsets of TCA/JDA,
* :func:`load_office_caltech_surf`: Office-Caltech10 SURF features,
* :func:`load_mnist`, :func:`load_usps`: the full digit sets,
* :func:`load_domain_pair`: a (source, target) pair of a multi-domain set.

The files are looked for in :func:`get_data_home` (argument, else the
``DOMAINADAPT_DATA`` environment variable, else ``~/domainadapt_data``) and their
SHA-256 is always checked (:func:`fetch_file`). ``download=True`` downloads the
public original files (``.mat``, idx, text; see each entry's ``conversions``),
verifies and converts them and writes the ``.npz``; a mirror of ready ``.npz``
files (``DOMAINADAPT_DATA_URL``) is used instead when set.
:func:`convert_originals` converts originals downloaded by hand.

Synthetic data (no files needed): :func:`make_rotated_moons`, :func:`make_rotated_blobs`,
:func:`make_gaussian_shift` (with its exact density ratio) and
:func:`make_shifted_digits` (scikit-learn's digits, the toolkit's default
example data) and :func:`make_topic_shift` (bag-of-words counts of two-class
"reviews" from two domains, a text-like shift).
"""

from ._blobs import make_rotated_blobs
from ._fetch import (
    DATA_HOME_ENV,
    DATA_URL_ENV,
    ORIGINALS_URL_ENV,
    REGISTRY,
    ChecksumError,
    Conversion,
    ConversionError,
    DataFile,
    DataNotFoundError,
    DownloadError,
    NoMirrorError,
    OriginalFile,
    fetch_file,
    get_data_home,
    npz_content_sha256,
    sha256sum,
)
from ._originals import convert_originals
from ._real import (
    OFFICE_CALTECH_CLASSES,
    OFFICE_CALTECH_DOMAINS,
    load_domain_pair,
    load_mnist,
    load_mnist_usps_jda,
    load_office_caltech_surf,
    load_usps,
)
from ._synthetic import (
    SHIFTED_DIGITS_DEFAULT_SEVERITY,
    make_gaussian_shift,
    make_rotated_moons,
    make_shifted_digits,
    make_topic_shift,
)

__all__ = [
    "DATA_HOME_ENV",
    "DATA_URL_ENV",
    "OFFICE_CALTECH_CLASSES",
    "OFFICE_CALTECH_DOMAINS",
    "ORIGINALS_URL_ENV",
    "REGISTRY",
    "SHIFTED_DIGITS_DEFAULT_SEVERITY",
    "ChecksumError",
    "Conversion",
    "ConversionError",
    "DataFile",
    "DataNotFoundError",
    "DownloadError",
    "NoMirrorError",
    "OriginalFile",
    "convert_originals",
    "fetch_file",
    "get_data_home",
    "load_domain_pair",
    "load_mnist",
    "load_mnist_usps_jda",
    "load_office_caltech_surf",
    "load_usps",
    "make_gaussian_shift",
    "make_rotated_blobs",
    "make_rotated_moons",
    "make_shifted_digits",
    "make_topic_shift",
    "npz_content_sha256",
    "sha256sum",
]
