"""Amounts of money as the office writes them, and as the store keeps them: whole öre (integers), never floats.

`parse_ore` reads what a spreadsheet cell or a YAML value holds: 925000, "925 000", "925 000 kr", "1 234,50",
"1234.50", "950:-". Spaces (also no-break and thin spaces) may group thousands by three; a comma or a full stop
starts at most two decimals (so "1.234" and "1,234" are refused rather than guessed). `kronor` writes an amount
back in Swedish: "925 000 kr", "1 234,50 kr".
"""

from __future__ import annotations

import re
from decimal import Decimal

ORE_PER_KRONA = 100
MAX_AMOUNT_TEXT = 40  # characters of an amount looked at
_SPACES = "\u0020\u00a0\u202f\u2009"
_UNITS = re.compile(r"(?:\s*(?:kr\.?|kronor|sek|:-))$", re.IGNORECASE)
_AMOUNT = re.compile(rf"^(-|−)?(\d{{1,3}}(?:[{_SPACES}]\d{{3}})+|\d+)(?:[,.](\d{{1,2}}))?$")
_NBSP = "\u00a0"


class AmountError(ValueError):
    """Not an amount: `code` is `not_a_number` (text that is not one), `too_precise` (more than two decimals, or
    öre where whole kronor are asked for), `negative`, or `too_large`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def parse_ore(value: object, *, allow_negative: bool = False, maximum_ore: int | None = None) -> int:
    """The amount in öre, or AmountError. `value`: an int (kronor), a float or Decimal (kronor, at most two
    decimals), or text as above. Booleans and anything else are refused."""
    if isinstance(value, bool):
        raise AmountError("not_a_number", "is not an amount")
    if isinstance(value, int):
        ore = value * ORE_PER_KRONA
    elif isinstance(value, float | Decimal):
        ore = _decimal_ore(Decimal(str(value)) if isinstance(value, float) else value)
    elif isinstance(value, str):
        ore = _text_ore(value)
    else:
        raise AmountError("not_a_number", "is not an amount")
    if ore < 0 and not allow_negative:
        raise AmountError("negative", "must not be negative")
    if maximum_ore is not None and abs(ore) > maximum_ore:
        raise AmountError("too_large", f"must be at most {kronor(maximum_ore)}")
    return ore


def parse_kronor(value: object, *, allow_negative: bool = False, maximum: int | None = None) -> int:
    """Whole kronor, or AmountError (`too_precise` for an amount with öre: "12,50")."""
    ore = parse_ore(
        value, allow_negative=allow_negative, maximum_ore=None if maximum is None else maximum * ORE_PER_KRONA
    )
    if ore % ORE_PER_KRONA:
        raise AmountError("too_precise", "must be whole kronor")
    return ore // ORE_PER_KRONA


def _decimal_ore(value: Decimal) -> int:
    if not value.is_finite():
        raise AmountError("not_a_number", "is not an amount")
    ore = value * ORE_PER_KRONA
    if ore != ore.to_integral_value():
        raise AmountError("too_precise", "must have at most two decimals (öre)")
    if abs(ore) > 10**15:
        raise AmountError("too_large", "is far too large")
    return int(ore)


def _text_ore(text: str) -> int:
    text = text.strip()[: MAX_AMOUNT_TEXT + 1]
    if len(text) > MAX_AMOUNT_TEXT:
        raise AmountError("not_a_number", "is not an amount")
    text = _UNITS.sub("", text).strip()
    found = _AMOUNT.match(text)
    if found is None:
        if re.fullmatch(rf"(-|−)?[\d{_SPACES}]+[,.]\d{{3,}}", text):
            raise AmountError("too_precise", "must have at most two decimals (öre)")
        raise AmountError("not_a_number", "is not an amount")
    sign, whole, decimals = found.groups()
    digits = "".join(ch for ch in whole if ch.isdigit())
    if len(digits) > 13:
        raise AmountError("too_large", "is far too large")
    ore = int(digits) * ORE_PER_KRONA + int((decimals or "0").ljust(2, "0"))
    return -ore if sign else ore


def decimal_kronor(ore: int) -> Decimal:
    """An amount in öre as kronor: Decimal('1234.50') for 123450, Decimal('925000') for 92500000."""
    return Decimal(ore).scaleb(-2) if ore % ORE_PER_KRONA else Decimal(ore // ORE_PER_KRONA)


def grouped(n: int) -> str:
    """'925 000': thousands grouped by a no-break space, as Swedish writes them."""
    return f"{n:,}".replace(",", _NBSP)


def kronor(ore: int, *, unit: bool = True) -> str:
    """'925 000 kr', '1 234,50 kr', '-500 kr' (öre shown only when there are some)."""
    sign = "-" if ore < 0 else ""
    whole, part = divmod(abs(ore), ORE_PER_KRONA)
    text = f"{sign}{grouped(whole)}" + (f",{part:02d}" if part else "")
    return f"{text} kr" if unit else text
