from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed, long-cached files once `collectstatic` has run. A file it has not
    collected (no collectstatic yet, or a stale one) keeps its plain name, and WhiteNoise serves
    it from the app folders, so a server never fails a page over a static file."""

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            return name
