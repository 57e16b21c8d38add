"""The web archive: every crawl's responses as WARC 1.1 files, deduplicated across runs, and read back as replay snapshots.

- `webarchive.middleware.ArchiveMiddleware`: the downloader middleware that writes a run's WARC files.
- `webarchive.run_archive.RunArchive`: writing one run's files (no Scrapy), and its rows in the archive index.
- `webarchive.reader`: a run's files (or one WARC file) as a snapshot directory the replay server serves.
- `webarchive.location`: where the archive goes and whether crawls write it.
"""
