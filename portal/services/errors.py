"""Domain errors: a service raises one; a route shows its message to the user (next to the field, if it names one)."""


class DomainError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """A named thing (a service, a provider) does not exist."""


class FieldErrors(DomainError):
    """Several fields are wrong at once: ``errors`` maps each field's name to its message, in the order shown."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field=field)
        self.errors = dict(errors)
