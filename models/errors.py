"""One error family: each carries a human message and the CLI exit code it maps to."""


class KiemchungError(Exception):
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputFileError(KiemchungError):
    """The file cannot be read as evidence: missing, not a PDF/image, encrypted, truncated."""

    exit_code = 2


class OcrUnavailableError(KiemchungError):
    """Tesseract or its Vietnamese model is not installed."""

    exit_code = 3
