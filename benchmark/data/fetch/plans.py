"""Where each task's data comes from: the published files and how they unpack, or the steps a person takes.

A task file's hash covers its ``source`` section, so the addresses live here, not in ``tasks/*.yaml``
(MedMNIST's address and md5 are the exception: the task files already pin them, and they are read from there).

Addresses:

- NIH ChestX-ray14 images: the 12 ``https://nihcc.box.com/shared/static/<key>.gz`` links of NIH's own
  ``batch_download_zips.py`` (saved as ``images_001.tar.gz`` ... ``images_012.tar.gz``). NIH publishes no
  checksums or lengths for them; each archive is proven by its gzip CRC and its image count (NIH's README:
  4,999 in the first, 10,000 in the next ten, 7,121 in the last; 112,120 in all).
- NIH metadata: NIH's Box folder has no direct links, so the four files come from pinned commits of two
  public repositories that hold them byte for byte, checked by sha256 (the files the task's split pin was
  computed from). A copy already in the folder (e.g. ``Data_Entry_2017_v2020.csv`` from the Box page) is used.
- Kermany et al.: ``ChestXRay2017.zip`` of Mendeley Data doi:10.17632/rscbjbr9sj.2 (no checksum published;
  proven by zip CRCs, 5,856 images, and the official test split's 234 NORMAL / 390 PNEUMONIA).
- MedMNIST: the task file's Zenodo address and MedMNIST's md5 (``medmnist.INFO``).

Sizes marked "estimate" are not published; they size the disk-space check and the progress bar until the
server states the length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmark.data.dataset import DataSpec
from benchmark.data.download import RemoteFile
from benchmark.data.fetch.unpack import Unpack, regex_placer

NIH_ARCHIVES = (  # (Box key, images in the archive), in order images_001 ... images_012
    ("vfk49d74nhbxq3nqjg0900w5nvkorp5c", 4999),
    ("i28rlmbvmfjbl8p2n3ril0pptcmcu9d1", 10000),
    ("f1t00wrtdk94satdfb9olcolqx20z2jp", 10000),
    ("0aowwzs5lhjrceb3qp67ahp0rd1l1etg", 10000),
    ("v5e3goj22zr6h8tzualxfsqlqaygfbsn", 10000),
    ("asi7ikud9jwnkrnkj99jnpfkjdes7l6l", 10000),
    ("jn1b4mw4n6lnh74ovmcjb8y48h8xj07n", 10000),
    ("tvpxmn7qyrgl0w8wfh9kqfjskv6nmm1j", 10000),
    ("upyy3ml7qdumlgk2rfcvlb9k6gvqq2pj", 10000),
    ("l6nilvfa9cg3s28tqv1qc1olm3gnz54p", 10000),
    ("hhq8fkdgvcari67vfhs7ppg2w6ni4jze", 10000),
    ("ioqwiy20ihqwyr8pf4c24eazhh281pbu", 7121),
)
NIH_BYTES_PER_IMAGE = 401_000  # estimate: ~45 GB for 112,120 PNGs (the 7 originals here average 427 kB)
_TXV = "https://raw.githubusercontent.com/mlmed/torchxrayvision/8ef884614164d54e2660947241ab0276b29526e9"
_LISTS = "https://raw.githubusercontent.com/Lasaj/emaim/0cc2a787025f1c547fc7b7d8e4acb0b56215ad53/ChestX-ray14"
NIH_METADATA = (  # (file, address, bytes, sha256, other names that serve instead)
    (
        "Data_Entry_2017_v2020.csv.gz",
        f"{_TXV}/torchxrayvision/data/Data_Entry_2017_v2020.csv.gz",
        978381,
        "9d4de640ee4f760215d8be98376b20387ca52f9c6b4d1b727cb588fb82f40b80",
        ("Data_Entry_2017_v2020.csv",),
    ),
    (
        "BBox_List_2017.csv.gz",
        f"{_TXV}/torchxrayvision/data/BBox_List_2017.csv.gz",
        22040,
        "cf9dc6029f65daa8b389415b0546af0eeeb91fbac7d63ec49d7f8de2fd8f40cd",
        ("BBox_List_2017.csv",),
    ),
    (
        "train_val_list.txt",
        f"{_LISTS}/train_val_list.txt",
        1470907,
        "61fbe896321c1c1c8b75f3e4f3a08e4fef6486d95ef8a667c31d4d60dca6cb81",
        (),
    ),
    (
        "test_list.txt",
        f"{_LISTS}/test_list.txt",
        435131,
        "38ca5ef7f756092946f57c1a59faca882ed589a1ab1f72590b45dc06c6d5e1cc",
        (),
    ),
)
NIH_BOX_PAGE = "https://nihcc.app.box.com/v/ChestXray-NIHCC"
MENDELEY_KERMANY = (
    "https://data.mendeley.com/public-files/datasets/rscbjbr9sj/files/f12eaf6d-6023-432f-acc9-80c9d7393433/"
    "file_downloaded"
)
KERMANY_BYTES = 1_240_000_000  # estimate: ~1.2 GB of JPEGs, stored (not recompressed) in the zip
KERMANY_IMAGES = 5856  # train 1,349 + 3,883 and test 234 + 390 in Mendeley's release (Kaggle moved 16 to val/)
MEDMNIST_BYTES = {"pneumoniamnist.npz": 4_200_000, "chestmnist.npz": 82_000_000}  # estimates
MEDMNIST_DEFAULT_BYTES = 100_000_000
CHEXPERT_PAGE = "https://stanfordmlgroup.github.io/competitions/chexpert/"
NIH1000_REPO = "https://github.com/dinbe0527/kcr2019d1"


@dataclass(frozen=True)
class Item:
    """One published file: kept as is at ``path`` (default: its name), or unpacked by ``unpack``.

    ``satisfied_by``: other names in the dataset folder that make fetching this file unnecessary.
    """

    remote: RemoteFile
    unpack: Unpack | None = None
    path: str = ""
    satisfied_by: tuple[str, ...] = ()

    @property
    def destination(self) -> str:
        return self.path or self.remote.name

    @property
    def unpacked_bytes(self) -> int:
        return self.unpack.unpacked_bytes if self.unpack is not None else 0


@dataclass(frozen=True)
class Plan:
    """How a task's data gets under ``<data root>/<folder>``: ``items`` to download, or ``steps`` for a person."""

    task: str
    folder: str
    items: tuple[Item, ...] = ()
    steps: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()  # what the folder holds when complete
    size: str = ""  # download size as a person reads it
    notes: tuple[str, ...] = ()

    @property
    def downloadable(self) -> bool:
        return bool(self.items)

    @property
    def download_bytes(self) -> int:
        return sum(item.remote.expected_bytes for item in self.items)


def plan_for(task: DataSpec) -> Plan:
    """The plan of ``task``, chosen by its source kind."""
    source = task.source
    builders = {
        "medmnist": _medmnist,
        "nih14": _nih14,
        "kermany": _kermany,
        "chexpert": _chexpert,
        "class_folders": _class_folders,
        "lung64_npz": _lung64,
    }
    builder = builders.get(source["kind"])
    if builder is None:
        how = source.get("how_to_get", "see the task file")
        return Plan(task.name, source.get("folder", task.name), steps=(f"Get the data: {how}.",))
    return builder(task, source)


def _medmnist(task: DataSpec, source: dict[str, Any]) -> Plan:
    filename = source.get("filename", f"{source['flag']}.npz")
    approx = MEDMNIST_BYTES.get(filename, MEDMNIST_DEFAULT_BYTES)
    remote = RemoteFile(filename, source["url"], approx, md5=source["md5"])
    return Plan(
        task.name,
        source["flag"],
        items=(Item(remote),),
        expect=(f"{source['flag']}/{filename} (md5 {source['md5']})",),
        size=f"{approx / 1e6:.0f} MB (estimate)",
    )


def _nih14(task: DataSpec, source: dict[str, Any]) -> Plan:
    return nih14_plan(task.name, source.get("folder", "nih14"))


def nih14_plan(
    task: str,
    folder: str,
    archives: tuple[tuple[str, int], ...] = NIH_ARCHIVES,
    metadata: tuple[tuple[str, str, int, str, tuple[str, ...]], ...] = NIH_METADATA,
    bytes_per_image: int = NIH_BYTES_PER_IMAGE,
) -> Plan:
    """NIH's plan; ``archives`` (Box key, image count) and ``metadata`` rows as NIH_ARCHIVES / NIH_METADATA."""
    items = [
        Item(RemoteFile(name, url, size, size=size, sha256=sha256), satisfied_by=instead)
        for name, url, size, sha256, instead in metadata
    ]
    for number, (key, count) in enumerate(archives, start=1):
        approx = count * bytes_per_image
        unpack = Unpack(
            "tar.gz",
            regex_placer(r"(?:^|/)(?P<name>\d{8}_\d{3}\.png)$", "images/{name}"),
            total=count,
            unpacked_bytes=approx,
        )
        remote = RemoteFile(f"images_{number:03d}.tar.gz", f"https://nihcc.box.com/shared/static/{key}.gz", approx)
        items.append(Item(remote, unpack))
    return Plan(
        task,
        folder,
        items=tuple(items),
        expect=(
            f"{folder}/Data_Entry_2017_v2020.csv.gz (or .csv), BBox_List_2017.csv.gz, train_val_list.txt, "
            "test_list.txt",
            f"{folder}/images/: 112,120 PNGs, 1024x1024 (the 12 archives unpacked; they are deleted unless "
            "--keep-archives)",
        ),
        size="about 45 GB (estimate; NIH publishes no lengths) plus 3 MB of metadata",
        notes=(
            f"Official page: {NIH_BOX_PAGE} (no usage restrictions: cite Wang et al. 2017, acknowledge the NIH CC).",
        ),
    )


def _kermany(task: DataSpec, source: dict[str, Any]) -> Plan:
    return kermany_plan(task.name, source.get("parent", source["folder"]), source["folder"])


def kermany_plan(
    task: str,
    parent: str,
    root: str,
    total: int = KERMANY_IMAGES,
    test_counts: tuple[int, int] = (234, 390),
    approx_bytes: int = KERMANY_BYTES,
) -> Plan:
    """Mendeley's ChestXRay2017.zip unpacked to ``parent/root/{train,test}/{NORMAL,PNEUMONIA}/`` (any folder
    the zip nests them in, macOS litter and dot files dropped); ``test_counts`` are NORMAL, PNEUMONIA."""
    unpack = Unpack(
        "zip",
        regex_placer(
            r"(?:^|/)(?P<split>train|test|val)/(?P<cls>NORMAL|PNEUMONIA)/(?P<name>[^/]+\.(?i:jpe?g))$",
            root + "/{split}/{cls}/{name}",
        ),
        total=total,
        counts={f"{root}/test/NORMAL/": test_counts[0], f"{root}/test/PNEUMONIA/": test_counts[1]},
        unpacked_bytes=approx_bytes,
    )
    remote = RemoteFile("ChestXRay2017.zip", MENDELEY_KERMANY, approx_bytes)
    return Plan(
        task,
        parent,
        items=(Item(remote, unpack),),
        expect=(f"{parent}/{root}/{{train,test}}/{{NORMAL,PNEUMONIA}}/: 5,856 JPEGs",),
        size="about 1.2 GB (estimate)",
        notes=("Mendeley Data doi:10.17632/rscbjbr9sj.2, CC BY 4.0.",),
    )


def _chexpert(task: DataSpec, source: dict[str, Any]) -> Plan:
    parent, folder = source.get("parent", "chexpert"), source.get("folder", "CheXpert-v1.0-small")
    return Plan(
        task.name,
        parent,
        steps=(
            f"Open {CHEXPERT_PAGE}, register and accept the CheXpert Dataset Research Use Agreement; the "
            f"download page (Stanford AIMI) then offers {folder}.zip (about 11 GB). Alternatively, with a "
            "Kaggle account and API token (~/.kaggle/kaggle.json): "
            f"`kaggle datasets download -d ashery/chexpert -p DIR/{parent} --unzip`.",
            f"Unpack it into DIR/{parent}/ so that DIR/{parent}/{folder}/train.csv, valid.csv, train/ and valid/ "
            "exist.",
            f"Run `benchmark data check {task.name} --data-root DIR`: it exits 0 when every image the task reads "
            "is present, decodes, and the split matches the task's pin.",
        ),
        expect=(
            f"{parent}/{folder}/train.csv (223,414 rows) and valid.csv (234 rows)",
            f"{parent}/{folder}/train/patient00001 ... patient64540/ and valid/patient64541 ... patient64740/: "
            f"223,648 JPEGs in all (the task reads the 191,229 frontal ones)",
        ),
        size="about 11 GB",
        notes=("Research use only; the agreement forbids redistribution: keep the files out of any repository.",),
    )


def _class_folders(task: DataSpec, source: dict[str, Any]) -> Plan:
    parent, folder = source.get("parent", source["folder"]), source["folder"]
    how = source.get("how_to_get", "")
    kaggle = "pranavraikokte/covid19-image-dataset" if "pranavraikokte/covid19-image-dataset" in how else None
    get = (
        f"With a Kaggle account and API token (~/.kaggle/kaggle.json): "
        f"`kaggle datasets download -d {kaggle} -p DIR/{parent} --unzip`, or download it in a browser from "
        f"https://www.kaggle.com/datasets/{kaggle} (sign-in required) and unzip it into DIR/{parent}/."
        if kaggle
        else f"Get the data: {how}."
    )
    classes = "{" + ",".join(source.get("class_dirs", {}).values() or task.labels) + "}"
    splits = "{" + ",".join(source["splits"]) + "}"
    return Plan(
        task.name,
        parent,
        steps=(
            get,
            f"Check that DIR/{parent}/{folder}/{splits}/{classes}/ exist (move the folders if the archive "
            "unpacked one level higher or lower).",
            f"Run `benchmark data check {task.name} --data-root DIR`.",
        ),
        expect=(
            f"{parent}/{folder}/{splits}/{classes}/"
            + (": 317 images (train 251 = 111/70/70, test 66 = 26/20/20), 96.8 MB" if kaggle else ""),
        ),
        size="97 MB" if kaggle else "",
    )


def _lung64(task: DataSpec, source: dict[str, Any]) -> Plan:
    folder, filename = source["folder"], source["filename"]
    return Plan(
        task.name,
        folder,
        steps=(
            "This task's npz is derived from NIH ChestX-ray14; nothing is downloaded for it directly.",
            "Get NIH's metadata into DIR/nih14: `benchmark data download nih14 --data-root DIR --metadata-only` "
            "(3 MB).",
            f"The pinned split is that of the 1,000 NIH images of the NIH1000 teaching set at 64x64 ({NIH1000_REPO}, "
            "folder NIH1000/): put that folder at DIR/nih14_64px/NIH1000/.",
            f"Build it: `benchmark data build {task.name} --from nih14 --data-root DIR --images DIR/nih14_64px "
            f"--out DIR/{folder}/{filename}` (building from the full NIH image set works too, but gives another "
            "split than the pinned one).",
            f"Run `benchmark data check {task.name} --data-root DIR`.",
        ),
        expect=(f"{folder}/{filename}: 1,000 images (train 600, val 201, test 199)",),
        size="5 MB of images (plus NIH's 3 MB of metadata)",
    )
