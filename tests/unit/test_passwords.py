"""Password policy and Argon2id hashing (A8): length, common passwords, no truncation."""

from __future__ import annotations

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.errors import Invalid
from app.passwords import (
    DUMMY_HASH,
    MAX_LENGTH,
    MIN_LENGTH,
    Passwords,
    check_policy,
    common_passwords,
)

EMAIL = "someone@example.com"


def refusal(password: str) -> str | None:
    """Why the policy refuses ``password`` (None: accepted); a refusal names the field."""
    try:
        check_policy(password, email=EMAIL)
    except Invalid as error:
        refused = error
    else:
        return None
    assert refused.extra["field"] == "password"
    return refused.detail


def test_seven_characters_are_refused_and_eight_accepted() -> None:
    """A8: The minimum is 8 characters: 7 is refused with a message naming it, 8 passes."""
    assert MIN_LENGTH == 8
    assert "at least 8" in (refusal("kq7#vZp") or "")
    assert refusal("kq7#vZpw") is None


@pytest.mark.parametrize("length", [64, 128, MAX_LENGTH])
def test_long_passphrases_are_accepted(length: int) -> None:
    """A8: Passwords of 64, 128 and the maximum number of characters are accepted."""
    assert refusal(("tiger lamp orbit " * 20)[:length]) is None


def test_past_the_maximum_is_refused() -> None:
    """A8: A password longer than the maximum is refused, not silently cut."""
    assert "at most" in (refusal("x7" * MAX_LENGTH) or "")


@pytest.mark.parametrize("password", ["password", "iloveyou1", "Qwertyuiop", "PASSWORD1"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    """A8: A password from the shipped list of common passwords is refused, in any letter case."""
    assert "too common" in (refusal(password) or "")


def test_shipped_list_is_a_few_thousand_entries_of_policy_length() -> None:
    """The common list ships with the package, holds thousands of entries, none too short."""
    common = common_passwords()
    assert len(common) > 5000
    assert all(len(entry) >= MIN_LENGTH for entry in common)
    assert "12345678" in common


def test_own_email_is_refused() -> None:
    """The account's email, or its part before the @, is not a password."""
    assert refusal("Someone@Example.com") is not None
    check_policy("averylongname", email="x@example.com")
    with pytest.raises(Invalid):
        check_policy("AVeryLongName", email="averylongname@example.com")


def test_whitespace_and_unicode_are_allowed() -> None:
    """A8: Spaces, emoji and non-Latin scripts are ordinary password characters."""
    assert refusal("  two  spaces  ") is None
    assert refusal("пароль-🙂-密码-ok") is None


async def test_hash_is_argon2id_and_verifies() -> None:
    """A8: A stored hash is Argon2id, the right password verifies and a wrong one does not."""
    passwords = Passwords()
    stored = await passwords.hash("tiger lamp orbit")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify("tiger lamp orbit", stored) == (True, None)
    assert (await passwords.verify("tiger lamp orbiT", stored))[0] is False


async def test_no_truncation_of_long_passwords() -> None:
    """A8: Two 200-character passwords that differ only in the last character do not match."""
    passwords = Passwords()
    long = "a9" * 99 + "xy"
    stored = await passwords.hash(long)
    assert (await passwords.verify(long[:-1] + "z", stored))[0] is False
    assert (await passwords.verify(long, stored))[0] is True


async def test_unicode_forms_of_one_password_match() -> None:
    """A password typed as a ligature or in decomposed form matches its NFKC-equal form."""
    passwords = Passwords()
    stored = await passwords.hash("ﬁnal café password")  # fi ligature, composed é
    assert (await passwords.verify("final cafe\u0301 password", stored))[0] is True


async def test_missing_hash_never_verifies() -> None:
    """No stored hash (an unknown account) is checked against the dummy and never matches."""
    assert await Passwords().verify("anything at all", None) == (False, None)


def test_dummy_hash_costs_what_a_real_one_costs() -> None:
    """The dummy hash has the hasher's current parameters, so verifying it takes as long."""
    hasher = PasswordHash((Argon2Hasher(),))
    assert hasher.current_hasher.identify(DUMMY_HASH)
    assert hasher.current_hasher.check_needs_rehash(DUMMY_HASH) is False


async def test_outdated_hash_is_replaced_on_verify() -> None:
    """A hash made with weaker parameters verifies and comes back upgraded."""
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    stored = weak.hash("tiger lamp orbit")
    ok, updated = await Passwords().verify("tiger lamp orbit", stored)
    assert ok
    assert updated is not None
    assert "m=65536" in updated


async def test_unknown_hash_format_does_not_verify() -> None:
    """A stored value that is no known hash format fails verification instead of raising."""
    assert (await Passwords().verify("whatever pw", "plaintext-not-a-hash"))[0] is False
