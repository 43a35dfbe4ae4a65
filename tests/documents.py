"""Realistic match documents of a given size (issue 19: "a cycle of 5 matches is 8 KB"): many
matches, each with its own title, provider, requirements and a cover letter written from
varied paragraphs, as a matcher produces them; no field padded to reach the size. Valid
against matches-inbox/match.schema.json. Deterministic (a seeded generator)."""

from __future__ import annotations

import json
import random
from typing import Any

ROLES = (
    "Cloud Architect",
    "Platform Engineer",
    "DevOps Engineer",
    "Site Reliability Engineer",
    "Kubernetes Consultant",
    "Terraform Specialist",
    "Data Engineer",
    "Backend Developer (Python)",
    "Security Engineer",
    "GitLab CI/CD Consultant",
    "Solution Architect",
    "Technical Lead Infrastructure",
)
DOMAINS = (
    "Energiehandel",
    "Automotive",
    "Versicherung",
    "Logistik",
    "Öffentlicher Sektor",
    "Retail",
    "Gesundheitswesen",
    "Telekommunikation",
    "Bank",
    "Maschinenbau",
)
PROVIDERS = (
    "Amoria Bond GmbH",
    "Hays AG",
    "Gulp Information Services",
    "SThree GmbH",
    "Computer Futures",
    "Etengo AG",
    "Westhouse Consulting",
    "Solcom GmbH",
    "Randstad Professional",
    "Michael Page",
    "freelancermap Direktkunde",
)
NOTES = ("Rate verhandelbar", "Start flexibel", "Remote-Anteil hoch", "Verlängerung geplant")
CITIES = ("München", "Berlin", "Hamburg", "Frankfurt am Main", "Köln", "Stuttgart", "Leipzig")
SKILLS = (
    ("Kubernetes / OpenShift", "mehrere produktive Cluster betrieben"),
    ("Terraform / IaC", "Module für AWS und GCP geschrieben"),
    ("AWS", "Landing Zones mit Control Tower"),
    ("Azure", "AKS und Azure DevOps"),
    ("GCP", "GKE, Cloud Run, BigQuery"),
    ("GitLab CI", "Pipelines für 200+ Repositories"),
    ("Python", "Backend-Services und Automatisierung"),
    ("Go", "Operatoren und CLI-Werkzeuge"),
    ("Observability", "Prometheus, Grafana, OpenTelemetry"),
    ("Security", "ISO 27001, Pentest-Findings behoben"),
    ("Deutsch verhandlungssicher", ""),
    ("Englisch fließend", ""),
    ("Scrum / SAFe", "als Tech Lead im ART"),
    ("PostgreSQL", "Hochverfügbarkeit mit Patroni"),
    ("Kafka", "Event-Streaming im Handel"),
)
OPENINGS = (
    "mit großem Interesse habe ich Ihre Ausschreibung „{title}“ gelesen.",
    "Ihre Anfrage für das Projekt „{title}“ im Bereich {domain} passt sehr gut zu meinem Profil.",
    "gerne bewerbe ich mich auf Ihr Projekt „{title}“ bei Ihrem Kunden aus dem Bereich {domain}.",
)
EXPERIENCE = (
    "In den letzten Jahren habe ich mehrere Cloud-Transformationen verantwortet, zuletzt die "
    "Migration einer {domain}-Plattform nach {cloud} mit {tool} und GitLab CI.",
    "Bei einem Kunden aus dem Bereich {domain} habe ich eine Plattform mit {tool} aufgebaut, "
    "über die heute mehr als {teams} Teams ihre Services selbstständig ausrollen.",
    "Als Tech Lead habe ich ein Team von {teams} Engineers durch die Einführung von {tool} "
    "geführt und die Release-Zyklen von Wochen auf Stunden verkürzt.",
    "Für einen Konzern im Bereich {domain} habe ich die Betriebskosten in {cloud} um {pct} "
    "Prozent gesenkt, ohne die Verfügbarkeit zu gefährden.",
    "Ich habe Audits nach ISO 27001 begleitet und die Findings in der Infrastruktur mit {tool} "
    "als Code nachvollziehbar geschlossen.",
    "Zuletzt habe ich Observability mit Prometheus und OpenTelemetry eingeführt; die mittlere "
    "Zeit bis zur Behebung von Störungen sank dabei um {pct} Prozent.",
)
FIT = (
    "Die geforderten Kenntnisse in {skills} bringe ich aus mehreren Projekten mit.",
    "Besonders {skill} setze ich seit Jahren produktiv ein; {skill2} gehört ebenso zu meinem "
    "täglichen Handwerkszeug.",
    "Ihre Anforderungen an {skills} decken sich mit meinen Schwerpunkten der letzten Projekte.",
)
PROJECTS = (
    "{year}–{year2}: {role} bei einem {domain}-Unternehmen ({city}): {tool}-Plattform für "
    "{teams} Teams aufgebaut, Betrieb und Übergabe an das interne Team.",
    "{year}–{year2}: Migration von {teams} Anwendungen aus dem eigenen Rechenzentrum nach "
    "{cloud} für einen Kunden aus dem Bereich {domain}; Landing Zone, Netzwerk, IAM.",
    "{year}–{year2}: Einführung von GitLab CI und {tool} bei einem Konzern im Bereich {domain}, "
    "Pipeline-Vorlagen für {teams} Repositories, Schulung der Entwicklerteams.",
    "{year}–{year2}: Aufbau von Monitoring und Alerting (Prometheus, Grafana, Loki) für eine "
    "{domain}-Plattform mit {teams} Microservices; Rufbereitschaft mit dem Kunden.",
    "{year}–{year2}: Security-Hardening einer {cloud}-Umgebung nach CIS-Benchmarks, "
    "Policy as Code mit OPA; Audit ohne Abweichungen bestanden.",
)
CLOSINGS = (
    "Ich bin ab {start} verfügbar und arbeite gerne {where}. Mein Stundensatz liegt bei "
    "{rate} EUR.",
    "Verfügbar bin ich ab {start}, gerne {where}; als Stundensatz stelle ich mir {rate} EUR vor.",
)


def _match(rng: random.Random, index: int, history: bool) -> dict[str, Any]:
    title = f"{rng.choice(ROLES)} - {rng.choice(DOMAINS)}"
    domain = rng.choice(DOMAINS)
    skills = rng.sample(SKILLS, rng.randint(4, 9))
    requirements = []
    for name, comment in skills:
        row: dict[str, Any] = {
            "requirement": name,
            "score": rng.choice((70, 80, 85, 90, 95, 100)),
            "weight": rng.randint(1, 3),
        }
        if comment:
            row["comment"] = comment
        requirements.append(row)
    words = {
        "title": title,
        "domain": domain,
        "cloud": rng.choice(("AWS", "Azure", "GCP")),
        "tool": rng.choice(("Terraform", "Kubernetes", "ArgoCD", "GitLab CI", "Ansible")),
        "teams": rng.randint(4, 40),
        "pct": rng.randint(15, 60),
        "skills": ", ".join(n for n, _ in skills[:3]),
        "skill": skills[0][0],
        "skill2": skills[1][0],
        "start": rng.choice(("sofort", "dem 1. März", "Mitte April", "dem 1. Juni")),
        "where": rng.choice(("remote", "hybrid", "vor Ort in " + rng.choice(CITIES))),
        "rate": rng.randint(85, 130),
    }
    paragraphs = [rng.choice(OPENINGS)]
    paragraphs += rng.sample(EXPERIENCE, rng.randint(2, 5))
    paragraphs += [rng.choice(FIT), rng.choice(CLOSINGS)]
    body = "\n\n".join(p.format(**words) for p in paragraphs)
    if history:  # the longer letter: the relevant projects, as a freelancer lists them
        years = sorted(rng.sample(range(2012, 2026), 6))
        lines = []
        for n, project in enumerate(rng.sample(PROJECTS, rng.randint(3, 5))):
            lines.append(
                "- "
                + project.format(
                    **{
                        **words,
                        "year": years[n],
                        "year2": years[n] + rng.randint(1, 2),
                        "role": rng.choice(ROLES),
                        "domain": rng.choice(DOMAINS),
                        "city": rng.choice(CITIES),
                        "teams": rng.randint(3, 60),
                    }
                )
            )
        body += "\n\nAusgewählte Projekte:\n" + "\n".join(lines)
    draft = f"Sehr geehrte Damen und Herren,\n\n{body}\n\nMit freundlichen Grüßen\nWolfram Laube"
    provider = rng.choice(PROVIDERS)
    slug = "-".join(title.lower().replace("(", "").replace(")", "").split())[:60]
    number = 2_870_000 + index
    return {
        "id": f"freelancermap-{number}",
        "score": rng.randint(70, 99),
        "title": title,
        "provider": provider,
        "location": f"{rng.choice(CITIES)} ({rng.choice(('100% Remote', 'hybrid', 'vor Ort'))})",
        "start": str(words["start"]).replace("dem ", "").capitalize(),
        "duration": rng.choice(("3 Mo+", "6 Monate", "12 Monate", "bis Jahresende")),
        "rate": words["rate"],
        "url": f"https://www.freelancermap.de/projekt/{slug}-{number}",
        "requirements": requirements,
        "notes": f"Kunde aus dem Bereich {domain}; {rng.choice(NOTES)}.",
        "draft": draft,
        "apply": {
            "email": f"projekte{index % 97}@{provider.split()[0].lower()}.example",
            "subject": f"{title} – Wolfram Laube",
        },
    }


def realistic_document(
    target_bytes: int, cycle_id: str = "cycle", seed: int = 19, *, history: bool = False
) -> bytes:
    """A cycle `{"cycle_id", "matches"}` whose minified UTF-8 JSON is at least
    `target_bytes` long (by at most one match more). `history`: longer letters that list
    past projects (about 3 kB a match instead of 1.6), so that 2 MB stay within the 1,000
    matches one document may hold."""
    rng = random.Random(seed)  # noqa: S311 (test data, not a secret)
    matches: list[dict[str, Any]] = []
    size = len(json.dumps({"cycle_id": cycle_id, "matches": []}).encode())
    while size < target_bytes:
        match = _match(rng, len(matches), history)
        matches.append(match)
        size += len(json.dumps(match, ensure_ascii=False, separators=(",", ":")).encode()) + 1
    document = {"cycle_id": cycle_id, "matches": matches}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
