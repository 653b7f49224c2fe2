"""VAT / GST / consumption tax rates outside the EU, effective-dated.

Sources (tax authority pages):
- GB VAT 20 % (since 2011-01-04; table from 2021-01-01, after the Brexit transition):
  https://www.gov.uk/guidance/rates-of-vat-on-different-goods-and-services
  Registration threshold GBP 85,000 (2017-04-01) -> GBP 90,000 (2024-04-01) for UK-established
  businesses; a non-established taxable person registers from its first UK supply:
  https://www.gov.uk/guidance/who-should-register-for-vat-vat-notice-7001
- NO VAT 25 %, VOEC scheme for non-resident sellers of electronic services to consumers,
  registration threshold NOK 50,000: https://www.skatteetaten.no/en/business-and-organisation/vat-and-duties/vat/foreign/e-commerce-voec/
- CH VAT 7.7 % (2018-01-01) -> 8.1 % (2024-01-01); reduced 2.5 -> 2.6, special 3.7 -> 3.8;
  registration from CHF 100,000 worldwide turnover:
  https://www.estv.admin.ch/estv/en/home/value-added-tax/vat-rates-switzerland.html
- AU GST 10 %, registration threshold AUD 75,000:
  https://www.ato.gov.au/businesses-and-organisations/international-tax-for-business/gst-for-non-resident-businesses
- JP consumption tax 10 % (reduced 8 %) from 2019-10-01; registration threshold JPY 10 million:
  https://www.nta.go.jp/english/taxes/consumption_tax/01.htm
- CA GST 5 %; QST 9.975 %; HST ON 13 %, NB/NL/PE 15 %, NS 15 % -> 14 % on 2025-04-01
  (Canada Revenue Agency rate table, below); GST/HST and QST registration threshold CAD 30,000
  (small supplier; non-resident simplified registration):
  https://www.canada.ca/en/revenue-agency/services/tax/businesses/topics/gst-hst-businesses/charge-collect-which-rate/calculator.html
  https://www.revenuquebec.ca/en/businesses/consumption-taxes/gsthst-and-qst/
- CA provincial sales tax on software / digital services: BC PST 7 % (out-of-province sellers
  of software and telecommunication services register once BC sales pass CAD 10,000, since
  2021-04-01), SK PST 6 % (out-of-province vendors need a vendor's licence; no small-seller
  threshold found), MB RST 7 % (digital services since 2021-12-01; CAD 10,000 of MB sales):
  https://www2.gov.bc.ca/gov/content/taxes/sales-taxes/pst/software
  https://www.saskatchewan.ca/business/taxes-licensing-and-reporting/provincial-taxes-policies-and-bulletins/provincial-sales-tax
  https://www.gov.mb.ca/finance/taxation/taxes/retail.html
"""

from __future__ import annotations

from datetime import date

from lms_billing.tax.rates import RatePeriod, RateTable, pct


def _p(start: date, standard: str, *reduced: str) -> RatePeriod:
    return RatePeriod(start, pct(standard), tuple(pct(r) for r in reduced))


NATIONAL_RATES: RateTable = {
    "GB": (_p(date(2021, 1, 1), "20", "5"),),
    "NO": (_p(date(2021, 1, 1), "25", "15", "12"),),
    "CH": (_p(date(2018, 1, 1), "7.7", "3.7", "2.5"), _p(date(2024, 1, 1), "8.1", "3.8", "2.6")),
    "AU": (_p(date(2000, 7, 1), "10"),),
    "JP": (_p(date(2019, 10, 1), "10", "8"),),
}

# Canada: federal GST outside the HST provinces, HST in them (replaces GST), QST in Quebec
# (on top of GST), PST in provinces that tax software / digital services (on top of GST).
CA_COVERAGE_START = date(2021, 7, 1)
CA_GST: RateTable = {"CA": (_p(CA_COVERAGE_START, "5"),)}
CA_HST: RateTable = {
    "ON": (_p(CA_COVERAGE_START, "13"),),
    "NB": (_p(CA_COVERAGE_START, "15"),),
    "NL": (_p(CA_COVERAGE_START, "15"),),
    "PE": (_p(CA_COVERAGE_START, "15"),),
    "NS": (_p(CA_COVERAGE_START, "15"), _p(date(2025, 4, 1), "14")),
}
CA_QST: RateTable = {"QC": (_p(CA_COVERAGE_START, "9.975"),)}
CA_PST_DIGITAL: RateTable = {
    "BC": (_p(CA_COVERAGE_START, "7"),),
    "SK": (_p(CA_COVERAGE_START, "6"),),
    "MB": (_p(date(2021, 12, 1), "7"),),
}
CA_PROVINCES: frozenset[str] = frozenset(
    {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
)

__all__ = [
    "CA_COVERAGE_START",
    "CA_GST",
    "CA_HST",
    "CA_PROVINCES",
    "CA_PST_DIGITAL",
    "CA_QST",
    "NATIONAL_RATES",
]
