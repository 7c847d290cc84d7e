"""One error family: each carries a human message and the exit code the CLI maps it to."""

from enum import IntEnum


class ExitCode(IntEnum):
    """The `kiemchung` command's exit codes, one list for every command and error class."""

    OK = 0
    FAILED = 1             # a KiemchungError without a more precise kind
    BAD_INPUT = 2          # a file, argument, rule set or setting the command cannot use
    OCR_UNAVAILABLE = 3    # Tesseract or its Vietnamese model is not installed
    OUT_OF_MEMORY = 4
    UNEXPECTED = 70        # a bug (EX_SOFTWARE): reported in one line all the same


class KiemchungError(Exception):
    exit_code = ExitCode.FAILED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputFileError(KiemchungError):
    """The file cannot be read as evidence: missing, not a PDF/image, encrypted, truncated."""

    exit_code = ExitCode.BAD_INPUT


class OcrUnavailableError(KiemchungError):
    """Tesseract or its Vietnamese model is not installed."""

    exit_code = ExitCode.OCR_UNAVAILABLE
