"""EU VAT rates for the 27 member states, effective-dated from 2021-07-01 (the OSS start).

Rates are fractions (``pct("19")`` is 19 %). ``reduced`` lists the permanent reduced, super-reduced
rates in force; temporary measures on specific goods (e.g. Covid-era hospitality rates) are not
modelled because they never applied to electronically supplied services.

Sources. The base is the European Commission's table, "VAT rates applied in the Member States
of the European Union": https://taxation-customs.ec.europa.eu/taxation/vat/vat-directive/vat-rates_en
Each dated change below cites its legal basis and the tax authority that publishes it. The
reduced-rate lists of the other states follow the Commission's table and were not re-checked
one by one for this release (review them before relying on a reduced rate for a product):
- EE 20 % -> 22 % (2024-01-01) -> 24 % (2025-07-01); reduced 9/5 -> 13/9 (2025-01-01).
  Estonian Tax and Customs Board: https://www.emta.ee/en/business-client/taxes-and-payment/value-added-tax/vat-rates
- FI 24 % -> 25.5 % (2024-09-01):
  https://vero.fi/en/businesses-and-corporations/taxes-and-charges/vat/rates-of-vat/new-vat-rate-from-1-september-2024--instructions-for-vat-reporting
- FI reduced 14 % -> 13.5 % (2026-01-01, 2026 state budget; 25.5 % and 10 % unchanged). Finnish
  Tax Administration, VAT rates: https://vero.fi/en/businesses-and-corporations/taxes-and-charges/vat/rates-of-vat/
- MT new reduced rate 12 % from 2024-01-01 (Legal Notice 231 of 2023; beside 7 % and 5 %).
  Commissioner for Revenue: https://cfr.gov.mt
- SK 20 % -> 23 % (2025-01-01); reduced 10/5 -> 19/5 (the 2024 consolidation package amending
  the VAT Act 222/2004). Financial Administration of the Slovak Republic: https://www.financnasprava.sk
- RO 19 % -> 21 % (2025-08-01); reduced 9/5 -> 11 (Law 141/2025, Monitorul Oficial 699/2025).
  National Agency for Fiscal Administration: https://www.anaf.ro
- LU 17 % -> 16 % for 2023 only (Law of 26 October 2022), back to 17 % on 2024-01-01 (AED
  Circular 812-1). Administration de l'enregistrement, des domaines et de la TVA: https://aed.public.lu
- CZ reduced 15/10 -> 12 (2024-01-01, consolidation package, Act 349/2023); standard 21 %.
  Financial Administration of the Czech Republic: https://www.financnisprava.cz
"""

from __future__ import annotations

from datetime import date

from lms_billing.tax.rates import RatePeriod, RateTable, pct

COVERAGE_START = date(2021, 7, 1)
_S = COVERAGE_START


def _p(start: date, standard: str, *reduced: str) -> RatePeriod:
    return RatePeriod(start, pct(standard), tuple(pct(r) for r in reduced))


EU_VAT_RATES: RateTable = {
    "AT": (_p(_S, "20", "13", "10"),),
    "BE": (_p(_S, "21", "12", "6"),),
    "BG": (_p(_S, "20", "9"),),
    "CY": (_p(_S, "19", "9", "5"),),
    "CZ": (_p(_S, "21", "15", "10"), _p(date(2024, 1, 1), "21", "12")),
    "DE": (_p(_S, "19", "7"),),
    "DK": (_p(_S, "25"),),
    "EE": (
        _p(_S, "20", "9", "5"),
        _p(date(2024, 1, 1), "22", "9", "5"),
        _p(date(2025, 1, 1), "22", "13", "9"),
        _p(date(2025, 7, 1), "24", "13", "9"),
    ),
    "ES": (_p(_S, "21", "10", "4"),),
    "FI": (
        _p(_S, "24", "14", "10"),
        _p(date(2024, 9, 1), "25.5", "14", "10"),
        _p(date(2026, 1, 1), "25.5", "13.5", "10"),
    ),
    "FR": (_p(_S, "20", "10", "5.5", "2.1"),),
    "GR": (_p(_S, "24", "13", "6"),),
    "HR": (_p(_S, "25", "13", "5"),),
    "HU": (_p(_S, "27", "18", "5"),),
    "IE": (_p(_S, "23", "13.5", "9", "4.8"),),
    "IT": (_p(_S, "22", "10", "5", "4"),),
    "LT": (_p(_S, "21", "9", "5"),),
    "LU": (
        _p(_S, "17", "14", "8", "3"),
        _p(date(2023, 1, 1), "16", "13", "7", "3"),
        _p(date(2024, 1, 1), "17", "14", "8", "3"),
    ),
    "LV": (_p(_S, "21", "12", "5"),),
    "MT": (_p(_S, "18", "7", "5"), _p(date(2024, 1, 1), "18", "12", "7", "5")),
    "NL": (_p(_S, "21", "9"),),
    "PL": (_p(_S, "23", "8", "5"),),
    "PT": (_p(_S, "23", "13", "6"),),
    "RO": (_p(_S, "19", "9", "5"), _p(date(2025, 8, 1), "21", "11")),
    "SE": (_p(_S, "25", "12", "6"),),
    "SI": (_p(_S, "22", "9.5", "5"),),
    "SK": (_p(_S, "20", "10", "5"), _p(date(2025, 1, 1), "23", "19", "5")),
}

__all__ = ["COVERAGE_START", "EU_VAT_RATES"]
