"""The one table of units: how each is written, what it measures, and how it converts.

Every unit of a dimension converts to that dimension's canonical unit (metres, grams,
litres, seconds, °C, …), so "2.5 km" and "2,500 metres" are the same fact::

    unit_at("35 kilometres away", 3)  # (Unit("length", "m", 1000.0), 14)
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    dimension: str
    canonical: str
    factor: float = 1.0  # canonical = value * factor + offset
    offset: float = 0.0

    def to_canonical(self, value: float) -> float:
        return value * self.factor + self.offset


_YEAR_S = 365.25 * 86400
# (dimension, canonical unit, factor, how it is written); longer spellings are tried first
_TABLE: tuple[tuple[str, str, float, str], ...] = (
    ("length", "m", 1000.0, "km|kilometre|kilometres|kilometer|kilometers|公里|千米"),
    ("length", "m", 1.0, "m|metre|metres|meter|meters|米"),
    ("length", "m", 0.01, "cm|centimetre|centimetres|centimeter|centimeters|厘米|公分"),
    ("length", "m", 0.001, "mm|millimetre|millimetres|millimeter|millimeters|毫米"),
    ("length", "m", 1609.344, "mile|miles|英里"),
    ("length", "m", 0.3048, "ft|foot|feet|英尺"),
    ("length", "m", 9.4607e15, "light-year|light-years|light year|light years|ly|光年"),
    ("length", "m", 1.495978707e11, "au|astronomical unit|astronomical units|天文单位"),
    ("area", "m2", 1e6, "km²|km2|sq km|square kilometre|square kilometres|square kilometer|square kilometers"),
    ("area", "m2", 1e6, "平方公里|平方千米"),
    ("area", "m2", 1.0, "m²|m2|sq m|square metre|square metres|square meter|square meters|平方米"),
    ("area", "m2", 1e4, "ha|hectare|hectares|公顷"),
    ("area", "m2", 666.67, "亩"),
    ("area", "m2", 4046.856, "acre|acres|英亩"),
    ("volume", "l", 1000.0, "m³|m3|cubic metre|cubic metres|cubic meter|cubic meters|立方米"),
    ("mass", "g", 1000.0, "kg|kilogram|kilograms|kilo|kilos|千克|公斤"),
    ("mass", "g", 1.0, "g|gram|grams|gramme|grammes|克"),
    ("mass", "g", 1e-3, "mg|milligram|milligrams|毫克"),
    ("mass", "g", 1e-6, "µg|μg|mcg|microgram|micrograms|微克"),
    ("mass", "g", 1e6, "t|tonne|tonnes|ton|tons|吨"),
    ("mass", "g", 453.59237, "lb|lbs|pound|pounds|磅"),
    ("volume", "l", 1.0, "l|litre|litres|liter|liters|升|公升"),
    ("volume", "l", 1e-3, "ml|millilitre|millilitres|milliliter|milliliters|毫升"),
    ("time", "s", 1.0, "s|sec|secs|second|seconds|秒|秒钟"),
    ("time", "s", 60.0, "min|mins|minute|minutes|分钟"),
    ("time", "s", 3600.0, "h|hr|hrs|hour|hours|小时|个小时|钟头"),
    ("time", "s", 86400.0, "day|days|天|日"),
    ("time", "s", 7 * 86400.0, "week|weeks|周|星期|个星期"),
    ("time", "s", _YEAR_S / 12, "month|months|个月"),
    ("time", "s", _YEAR_S, "year|years|yr|yrs|years old|year old|年|岁|周岁"),
    ("time", "s", 10 * _YEAR_S, "decade|decades"),
    ("time", "s", 100 * _YEAR_S, "century|centuries|世纪|个世纪"),
    ("temperature", "°C", 1.0, "°c|℃|° c|degrees celsius|degree celsius|degrees c|celsius|摄氏度|度|degrees|degree"),
    ("percent", "%", 1.0, "%|％|percent|per cent|pct|percentage points"),
    ("people", "people", 1.0, "people|persons|person|人|名|位"),
    ("households", "households", 1.0, "households|household|户"),
    ("money", "usd", 1.0, "usd|dollar|dollars|us dollars|美元"),
    ("money", "eur", 1.0, "eur|euro|euros|欧元"),
    ("money", "cny", 1.0, "cny|rmb|yuan|元|人民币"),
    ("power", "w", 1.0, "w|watt|watts|瓦"),
    ("power", "w", 1e3, "kw|kilowatt|kilowatts|千瓦"),
    ("power", "w", 1e6, "mw|megawatt|megawatts|兆瓦"),
    ("power", "w", 1e9, "gw|gigawatt|gigawatts|吉瓦"),
    ("energy", "wh", 1.0, "wh|watt-hour|watt-hours"),
    ("energy", "wh", 1e3, "kwh|kilowatt-hour|kilowatt-hours|千瓦时|度电"),
    ("energy", "wh", 1e6, "mwh|megawatt-hour|megawatt-hours"),
    ("energy", "wh", 1e9, "gwh|gigawatt-hour|gigawatt-hours"),
    ("energy", "wh", 1e12, "twh|terawatt-hour|terawatt-hours"),
    ("charge", "mah", 1.0, "mah"),
    ("voltage", "v", 1.0, "v|volt|volts|伏|伏特"),
    ("frequency", "hz", 1.0, "hz|hertz|赫兹"),
    ("speed", "m/s", 1.0, "m/s|metres per second|meters per second|米每秒"),
    ("speed", "m/s", 1 / 3.6, "km/h|kph|kilometres per hour|kilometers per hour|公里每小时"),
    ("speed", "m/s", 0.44704, "mph|miles per hour"),
    ("pressure", "mmhg", 1.0, "mmhg|mm hg|毫米汞柱"),
    ("concentration", "mg/dl", 1.0, "mg/dl"),
    ("concentration", "mmol/l", 1.0, "mmol/l|毫摩尔每升"),
    ("dose", "iu", 1.0, "iu|international units|国际单位"),
)
FAHRENHEIT = Unit("temperature", "°C", 5 / 9, -160 / 9)
_EXTRA: dict[str, Unit] = {
    form: FAHRENHEIT for form in ("°f", "℉", "° f", "degrees fahrenheit", "degree fahrenheit", "fahrenheit", "华氏度")
}
UNITS: dict[str, Unit] = {
    form: Unit(dim, canonical, factor) for dim, canonical, factor, forms in _TABLE for form in forms.split("|")
} | _EXTRA
# written before the number
PREFIX_UNITS: dict[str, Unit] = {"$": UNITS["usd"], "us$": UNITS["usd"], "€": UNITS["eur"], "¥": UNITS["cny"]}
YEAR_UNIT = Unit("date", "year")
CLOCK_UNIT = Unit("clock", "min")  # a time of day, in minutes after midnight
NUMBER_UNIT = Unit("number", "")

_FORMS = sorted(UNITS, key=len, reverse=True)
_UNIT_AT = re.compile(r"\s*(" + "|".join(re.escape(f) for f in _FORMS) + r")(?![a-z])", re.IGNORECASE)
_PREFIX_AT = re.compile(r"(" + "|".join(re.escape(f) for f in PREFIX_UNITS) + r")\s*$", re.IGNORECASE)


def unit_at(text: str, pos: int) -> tuple[Unit, int, str] | None:
    """The unit written at ``text[pos:]`` (after optional spaces): the unit, where it ends, and
    how it was written (lower-cased); None when no unit is there."""
    m = _UNIT_AT.match(text, pos)
    if m is None:
        return None
    form = m.group(1).lower()
    return UNITS[form], m.end(), form


def prefix_unit(text: str, pos: int) -> Unit | None:
    """A currency sign written just before ``text[pos]`` ("$5"), or None."""
    m = _PREFIX_AT.search(text[max(0, pos - 4) : pos])
    return PREFIX_UNITS[m.group(1).lower()] if m else None
