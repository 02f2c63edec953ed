"""Who the patient is (issue 24): contact details given with consent, kept encrypted.

A clinic turns this on (``triage serve --contact-details``, off by default) and supplies the key:
``TRIAGE_CONTACT_KEY``, one or more Fernet keys separated by commas, the first one used to
encrypt, every one tried to decrypt (``cryptography``'s MultiFernet), so that a key is rotated by
putting the new one first, re-encrypting (``triage serve --rotate-contact-key``) and then
removing the old one. A lost key loses the contact details it encrypted, and nothing else.

What is stored of a patient's details (``clinic_contacts``): one Fernet token of all of them
(AES-128-CBC with HMAC-SHA256, the time of encryption inside), and two search digests: the
HMAC-SHA256 of the name and of the patient number, written the same way whatever the spacing or
case, keyed by a key derived from the first Fernet key, so that the queue finds "jane doe" or a
number without decrypting every row, and a stolen database without the key says nothing. The
details are never logged, never written to the audit trail, and never in an export that does
not say it includes them.

Every submission also gets a short reference the patient can read out over the phone (see
``new_reference``), whether or not contact details are on.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import secrets

from ...errors import TriageError

KEY_ENV = "TRIAGE_CONTACT_KEY"

# the reference's letters: no 0/O, 1/I/L, 2/Z, 5/S, 8/B, U/V, so that nothing read aloud or
# copied by hand is taken for something else
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTWXY34679"
REFERENCE_LENGTH = 8  # 23^8, about 78 thousand million: collisions are retried anyway


def new_reference() -> str:
    """A reference such as ``K7RM-4CXA``: 8 unambiguous characters in two groups of four."""
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalise_reference(text: str) -> str:
    """A typed reference as stored (``K7RM-4CXA``): capitals, the dash put back."""
    code = "".join(ch for ch in text.upper() if ch.isalnum())
    return f"{code[:4]}-{code[4:]}" if len(code) == REFERENCE_LENGTH else code


class ContactKeyError(TriageError):
    """The contact key is missing or is not a Fernet key."""


KEY_HELP = (f"set {KEY_ENV} to a key made with: python3 -c \"from cryptography.fernet import "
            f"Fernet; print(Fernet.generate_key().decode())\" (keep a copy somewhere safe: "
            f"without it the contact details cannot be read)")


class Keyring:
    """The clinic's contact keys: encrypt with the first, decrypt with any."""

    def __init__(self, keys: list[str]):
        from cryptography.fernet import Fernet, MultiFernet

        if not keys:
            raise ContactKeyError(f"contact details are on but no key is set: {KEY_HELP}")
        try:
            self._fernets = [Fernet(k.strip().encode("ascii")) for k in keys]
        except (ValueError, UnicodeEncodeError):
            raise ContactKeyError(f"{KEY_ENV} is not a list of Fernet keys (32 bytes in URL-safe "
                                  f"base64 each, separated by commas): {KEY_HELP}") from None
        self._multi = MultiFernet(self._fernets)
        self._index_key = hmac.new(keys[0].strip().encode("ascii"), b"triage contact search",
                                   hashlib.sha256).digest()

    @classmethod
    def from_env(cls, environ=None) -> "Keyring":
        raw = (environ if environ is not None else os.environ).get(KEY_ENV, "")
        return cls([k for k in raw.split(",") if k.strip()])

    def seal(self, details: "ContactDetails") -> str:
        return self._multi.encrypt(json.dumps(details.to_dict()).encode("utf-8")).decode("ascii")

    def open(self, token: str) -> "ContactDetails | None":
        """The details, or None when no key of the keyring opens them (a lost key)."""
        from cryptography.fernet import InvalidToken

        try:
            return ContactDetails(**json.loads(self._multi.decrypt(token.encode("ascii"))))
        except (InvalidToken, ValueError, TypeError):
            return None

    def rotate(self, token: str) -> str:
        """The same details encrypted with the first key (MultiFernet.rotate)."""
        return self._multi.rotate(token.encode("ascii")).decode("ascii")

    def search_digest(self, kind: str, text: str | None) -> str | None:
        """The HMAC of a name or a patient number, the same for any spacing or case."""
        if not text:
            return None
        normal = " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())
        if kind == "number":
            normal = normal.replace(" ", "")
        if not normal:
            return None
        return hmac.new(self._index_key, f"{kind}:{normal}".encode("utf-8"),
                        hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class ContactDetails:
    name: str
    date_of_birth: str  # ISO date
    phone: str = ""
    email: str = ""
    patient_number: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __repr__(self) -> str:  # never a patient's details in a traceback or a log line
        return "ContactDetails(...)"

    __str__ = __repr__


# --------------------------------------------------------------------------- the patient's form

FIELDS = ("name", "dob_day", "dob_month", "dob_year", "phone", "email", "patient_number",
          "consent")


def nhs_number_valid(digits: str) -> bool:
    """The NHS number's check digit (modulus 11): the first nine digits weighted 10 down to 2,
    11 minus the sum's remainder by 11 is the tenth digit (11 counts as 0; 10 never valid)."""
    if not re.fullmatch(r"[0-9]{10}", digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def parse_form(form: dict, today: _dt.date | None = None
               ) -> tuple[ContactDetails | None, dict[str, str]]:
    """The details from the contact page's fields, or the errors to show (field -> words)."""
    errors: dict[str, str] = {}
    value = {k: str(form.get(k) or "").strip() for k in FIELDS}
    name = " ".join(value["name"].split())
    if not name:
        errors["name"] = "Enter your full name"
    elif len(name) > 100:
        errors["name"] = "Your name must be 100 characters or fewer"
    dob = None
    try:
        dob = _dt.date(int(value["dob_year"]), int(value["dob_month"]), int(value["dob_day"]))
    except ValueError:
        errors["dob"] = ("Enter your date of birth as numbers, for example 27 3 1980"
                         if any(value[k] for k in ("dob_day", "dob_month", "dob_year"))
                         else "Enter your date of birth")
    else:
        today = today or _dt.date.today()
        if dob > today:
            errors["dob"] = "Your date of birth must be in the past"
        elif dob.year < today.year - 120:
            errors["dob"] = "Check the year of your date of birth"
    phone = " ".join(value["phone"].split())
    digits = re.sub(r"[\s()+-]", "", phone)
    if phone and (not re.fullmatch(r"\+?[0-9 ()-]+", phone) or not 7 <= len(digits) <= 15):
        errors["phone"] = "Enter a phone number, like 07700 900 982 or +44 7700 900 982"
    email = value["email"]
    if email and (len(email) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)):
        errors["email"] = "Enter an email address, like name@example.com"
    if not phone and not email and "phone" not in errors and "email" not in errors:
        errors["phone"] = "Enter a phone number or an email address, so the clinic can reach you"
    number = value["patient_number"]
    compact = re.sub(r"[\s-]", "", number)
    if number:
        if re.fullmatch(r"[0-9]{10}", compact):
            if not nhs_number_valid(compact):
                errors["patient_number"] = ("This is not a valid NHS number: check the 10 "
                                            "digits, or leave it empty")
            number = f"{compact[:3]} {compact[3:6]} {compact[6:]}"
        elif not re.fullmatch(r"[A-Za-z0-9]{1,20}", compact):
            errors["patient_number"] = ("Enter your patient number as letters and numbers "
                                        "only, or leave it empty")
        else:
            number = compact.upper()
    if not value["consent"]:
        errors["consent"] = "Tick the box to agree, or choose not to give your details"
    if errors:
        return None, errors
    return ContactDetails(name=name, date_of_birth=dob.isoformat(), phone=phone, email=email,
                          patient_number=number), {}


def rotate_all(database_url: str, keyring: Keyring) -> int:
    """Every stored contact detail encrypted again with the keyring's first key, and its search
    digests computed again with it (`triage serve --rotate-contact-key`). Details no key opens
    (a lost key) are left as they are. Returns how many were encrypted again."""
    from sqlalchemy import select, update

    from ..db import make_engine
    from .models import Contact

    table = Contact.__table__
    engine = make_engine(database_url)
    count = 0
    try:
        with engine.begin() as connection:
            for submission_id, sealed in connection.execute(
                    select(table.c.submission_id, table.c.sealed)).all():
                details = keyring.open(sealed)
                if details is None:
                    continue
                connection.execute(update(table).where(table.c.submission_id == submission_id)
                                   .values(sealed=keyring.rotate(sealed),
                                           name_digest=keyring.search_digest("name",
                                                                             details.name),
                                           number_digest=keyring.search_digest(
                                               "number", details.patient_number)))
                count += 1
    finally:
        engine.dispose()
    return count
