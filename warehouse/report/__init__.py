"""The official form 附件2 (治理欠薪冬季行动情况) rendered from a snapshot: xlsx, CSV, table."""

from warehouse.report.form import UnitForm, build_forms
from warehouse.report.values import DEFAULT_PRECISION, Precision, parse_precision, rounded

__all__ = [
    "UnitForm",
    "build_forms",
    "Precision",
    "DEFAULT_PRECISION",
    "parse_precision",
    "rounded",
    "write_xlsx",
    "write_csv",
    "render_table",
]


def __getattr__(name: str) -> object:  # the writers load openpyxl / rich only when asked
    if name == "write_xlsx":
        from warehouse.report.xlsx import write_xlsx

        return write_xlsx
    if name in ("write_csv", "render_table"):
        from warehouse.report import text

        return getattr(text, name)
    raise AttributeError(name)
