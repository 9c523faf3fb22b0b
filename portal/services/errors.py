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


class IllegalTransition(DomainError):
    """The record is not in a state this change can be made from (a route answers 409)."""


class Conflict(DomainError):
    """Someone changed the record after the page was loaded (a route answers 409)."""


class NotAllowed(DomainError):
    """The acting user may not make this change (a route answers 403)."""
