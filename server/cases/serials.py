"""Case serial numbers (办事流水号): unique in the county, readable, and self-checking.

A serial is 22 digits, printed in four groups::

    990102101-261122-00042-93
    |         |      |     check digits, ISO/IEC 7064 MOD 97-10 over the 20 digits before them
    |         |      sequence of the township on that day, 00001-99999
    |         the day the case was given its serial, YYMMDD (local date, years 2000-2099)
    the township: the first nine digits of its 12-digit region code (the rest is 000)

Region codes are unique and the sequence is counted per township per day, so a serial is
unique across the county without asking the county. Reading it back accepts the groups with or
without hyphens, any white space and full-width characters. Serials are all digits, so they are
easy to type on a phone keypad and read out over the phone.

The check digits follow ISO/IEC 7064:2003, pure system MOD 97-10, the one IBANs use (ISO 13616):
for the 20 digits read as a number n, the check is 98 - (100 n mod 97), written as two digits
(02-98), so the whole 22-digit number is 1 modulo 97. The check values 97, 98 and 02 have twins
00, 01 and 99 that would also make the number 1 modulo 97; the twins are never issued and are
refused, so each case has exactly one serial.

Why MOD 97-10 and not the MOD 37,36 check character used before: the hybrid system MOD 37,36
misses about 1 in 180 swaps of two neighbouring digits (the 120th and the 210th case of a day
shared a check character), so a clerk's slip could land on another real case. MOD 97-10
catches every such slip, including slips in the check digits themselves. The digit i places
from the right (check digits included) weighs 10^i in the number:

- one wrong digit changes the number by d * 10^i, where d, up or down, is 1-9;
- two neighbouring digits a != b swapped change it by (a - b) * 9 * 10^i;

and 97 is a prime that divides none of 1-9, 10^i or 9, so the remainder always moves off 1.
More broadly, 10 has order 96 modulo 97, so swapping any two different digits of the 22, near or
far, is caught too. What remains possible is two or more independent slips that happen to
cancel out, roughly 1 in 97 of them. The tests check all of this exhaustively over sample serials.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from server.org.codes import validate

SERIAL_LENGTH = 22  # 9 + 6 + 5 digits and 2 check digits, without hyphens
_BODY_LENGTH = 20  # the digits the check digits protect
MAX_SEQUENCE = 99_999
_DIGITS = "0123456789"
# Separators a clerk may type or paste between the groups: white space and dashes of all widths.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\uff0d]+")


def _is_digits(text: str) -> bool:
    # Only ASCII 0-9: str.isdigit and int() would also take full-width, Arabic-Indic and others.
    return bool(text) and all(ch in _DIGITS for ch in text)


def mod97_10_check_digits(digits: str) -> str:
    """The two ISO/IEC 7064 MOD 97-10 check digits of `digits` (02-98).

    `digits` is a non-empty string of ASCII 0-9, else ValueError. Appended to `digits`, the check
    digits make the whole number 1 modulo 97. (For IBANs and other alphanumeric codes, turn the
    letters into numbers first, A = 10 ... Z = 35.)
    """
    if not _is_digits(digits):
        raise ValueError(f"MOD 97-10 check digits need one or more digits 0-9, not {digits!r}")
    return f"{98 - int(digits) * 100 % 97:02d}"


def mod97_10_is_valid(text: str) -> bool:
    """True when the last two digits of `text` are the MOD 97-10 check digits of the rest.

    That is: `text` is all digits, the whole number is 1 modulo 97, and the check digits are the
    ones `mod97_10_check_digits` gives (so 00, 01 and 99 are refused).
    """
    if len(text) < 3 or not _is_digits(text):
        return False
    return mod97_10_check_digits(text[:-2]) == text[-2:]


@dataclass(frozen=True)
class Serial:
    """A case serial number taken apart."""

    township_code: str  # the full 12-digit region code, ending in 000
    day: dt.date
    sequence: int

    def __str__(self) -> str:
        return make_serial(self.township_code, self.day, self.sequence)


def make_serial(township_code: str, day: dt.date, sequence: int) -> str:
    """The printed serial (with hyphens) of a township's `sequence`-th case on `day`.

    `township_code` is the 12-digit region code or its 9 significant digits. A bad argument is
    a programmer's error: ValueError (RegionCodeError for the code).
    """
    township = validate(township_code, "township")
    if not 2000 <= day.year <= 2099:
        raise ValueError(f"流水号的日期只能在 2000–2099 年之间，现为 {day.isoformat()}")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"流水号的当日序号应在 1–{MAX_SEQUENCE} 之间，现为 {sequence}")
    digits = f"{township[:9]}{day:%y%m%d}{sequence:05d}"
    return f"{digits[:9]}-{digits[9:15]}-{digits[15:]}-{mod97_10_check_digits(digits)}"


def compact_serial(text: str) -> str:
    """The serial as typed, without separators, half-width and in upper case."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def _read(text: str) -> tuple[Serial | None, str | None]:
    compact = compact_serial(text)
    if not compact:
        return None, "请填写流水号"
    if len(compact) != SERIAL_LENGTH:
        return None, (
            f"流水号应为 {SERIAL_LENGTH} 位数字（乡镇代码 9 位、日期 6 位、序号 5 位、"
            f"校验码 2 位，连字符不计），现为 {len(compact)} 位"
        )
    for position, ch in enumerate(compact, start=1):
        if ch not in _DIGITS:
            return None, f"流水号的 {SERIAL_LENGTH} 位应全是数字，第 {position} 位是“{ch}”，请核对"
    if not mod97_10_is_valid(compact):
        return None, "流水号校验码不对，可能有输错或前后颠倒的数字，请核对"
    # Past the check digits, a wrong part means a made-up number rather than a typo.
    if compact[6:9] == "000":
        return None, "流水号前 9 位应为乡镇代码，第 7–9 位不能是 000，请核对"
    try:
        day = dt.date(2000 + int(compact[9:11]), int(compact[11:13]), int(compact[13:15]))
    except ValueError:
        return None, f"流水号中的日期 {compact[9:15]} 不存在，请核对"
    sequence = int(compact[15:_BODY_LENGTH])
    if sequence == 0:
        return None, "流水号中的序号不能是 00000，请核对"
    return Serial(township_code=compact[:9] + "000", day=day, sequence=sequence), None


def parse_serial(text: str) -> Serial | None:
    """The serial's parts, or None when `serial_problem` has something to say."""
    return _read(text)[0]


def serial_problem(text: str) -> str | None:
    """What is wrong with a typed serial number, in Chinese, or None."""
    return _read(text)[1]
