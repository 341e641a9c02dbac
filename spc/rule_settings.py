"""Per-characteristic settings of the eight Nelson rules, with their defaults."""

from dataclasses import dataclass, replace

from django.db import models

# Charts whose only signal is their own limits (rule 1): Nelson's rules 2–8 are Shewhart patterns.
SERIES_CHARTS = ("ewma", "cusum")


class Severity(models.TextChoices):
    INFO = "INFO", "Info"
    WARNING = "WARNING", "Warning"
    CRITICAL = "CRITICAL", "Critical"


DEFAULT_SEVERITY = {1: Severity.CRITICAL, 7: Severity.INFO}

RULES = range(1, 9)


@dataclass(frozen=True)
class RuleSetting:
    rule: int
    enabled: bool = True
    requires_ack: bool = True
    severity: str = Severity.WARNING


def default(rule: int) -> RuleSetting:
    return RuleSetting(rule, severity=DEFAULT_SEVERITY.get(rule, Severity.WARNING))


_DEFAULTS = {rule: default(rule) for rule in RULES}
_KEYS = ("enabled", "requires_ack", "severity")


def settings_for(ch) -> dict[int, RuleSetting]:
    """Every rule's setting; EWMA and CUSUM charts only signal on their own limits (rule 1)."""
    stored = ch.rule_settings or {}
    shewhart = ch.chart_type not in SERIES_CHARTS
    out = {}
    for rule in RULES:
        setting = _DEFAULTS[rule]
        changes = {k: v for k, v in stored.get(str(rule), {}).items() if k in _KEYS}
        if not shewhart and rule != 1:
            changes["enabled"] = False
        out[rule] = replace(setting, **changes) if changes else setting
    return out


def enabled_rules(ch) -> set[int]:
    return {rule for rule, s in settings_for(ch).items() if s.enabled}


def validate(items) -> dict[str, dict]:
    """Turn [{rule, enabled, requires_ack, severity}, …] into the stored form, or raise."""
    if not isinstance(items, list):
        raise ValueError("rules must be a list of {rule, enabled, requires_ack, severity}.")
    stored: dict[str, dict] = {}
    for item in items:
        if not isinstance(item, dict) or item.get("rule") not in RULES:
            raise ValueError("Each rule needs 'rule' between 1 and 8.")
        unknown = sorted(set(item) - {"rule", "enabled", "requires_ack", "severity"})
        if unknown:
            raise ValueError(f"Rule {item['rule']}: unknown setting(s) {', '.join(unknown)}; "
                             "use enabled, requires_ack, severity.")
        entry = {}
        for key in ("enabled", "requires_ack"):
            if key in item:
                if not isinstance(item[key], bool):
                    raise ValueError(f"Rule {item['rule']}: '{key}' must be true or false.")
                entry[key] = item[key]
        if "severity" in item:
            if item["severity"] not in Severity.values:
                raise ValueError(f"Rule {item['rule']}: severity must be one of "
                                 f"{', '.join(Severity.values)}.")
            entry["severity"] = item["severity"]
        stored[str(item["rule"])] = entry
    return stored
