"""Which files under a table's location its metadata still reaches (the rest are orphans to delete).

Paths are compared with their scheme stripped (``/abs/path`` locally, ``bucket/key`` on S3), the form both the
file system listing (:mod:`lake.stored_files`) and :meth:`PyArrowFileIO.parse_location` give.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestFile
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot

from lake.tables import file_system_path


class ReachableFiles:
    """Files a table's metadata reaches: metadata JSONs, statistics, manifest lists, manifests, data/delete files.

    Manifests never change once written, so each one's entries are read once however often it is asked for.
    """

    def __init__(self, io: FileIO) -> None:
        self._io = io
        self._entries: dict[str, frozenset[str]] = {}

    def of(self, metadata: TableMetadata, metadata_location: str, snapshots: Iterable[Snapshot]) -> set[str]:
        """File system paths of everything ``metadata`` (at ``metadata_location``) needs to read ``snapshots``."""
        locations = {
            metadata_location,
            *(entry.metadata_file for entry in metadata.metadata_log),
            *(stats.statistics_path for stats in metadata.statistics),
            *(stats.statistics_path for stats in metadata.partition_statistics),
        }
        for snapshot in snapshots:
            locations.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(self._io):
                locations.add(manifest.manifest_path)
                locations |= self._files_of(manifest)
        return {file_system_path(location) for location in locations}

    def _files_of(self, manifest: ManifestFile) -> frozenset[str]:
        if manifest.manifest_path not in self._entries:
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=True)
            self._entries[manifest.manifest_path] = frozenset(entry.data_file.file_path for entry in entries)
        return self._entries[manifest.manifest_path]
