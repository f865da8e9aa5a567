"""What may stay in Latin letters on the Chinese UI, shared by the AppTest and the Chromium walks."""

from __future__ import annotations

import re

# Words that may stay Latin on the Chinese UI, and why.
ALLOWED_WORDS = {
    # file formats, standards and coordinate systems a planner types or picks by that name
    "CSV", "XLSX", "Excel", "PDF", "Word",
    "GeoJSON", "GeoParquet", "GeoPackage", "Shapefile", "File", "Geodatabase", "zip",
    "WGS", "GCJ", "BD", "CGCS", "EPSG", "GB", "UTC", "PNG", "SVG", "TOML", "JSON",
    # units
    "m", "km", "MB", "ha",
    # the command line shown to copy (python -m dayuan_geo export ...)
    "python", "dayuan_geo", "export", "parcels", "format", "csv", "xlsx", "geojson", "filter", "lang", "zh", "o",
    "release_status", "village_code", "released_on", "planned_use", "ownership", "park_id", "area_m2", "parcel_id",
    # the language switch names the other language in that language
    "English",
    # Streamlit's own strings an app cannot replace: the uploader (its button and the file types it lists),
    # multiselect and date placeholders, the accessibility link "Skip to main content", the password eye
    "200MB", "Browse", "files", "Drag", "and", "drop", "file", "here", "Limit", "per", "Select", "all", "Deploy",
    "Upload", "GEOJSON", "GEOPARQUET", "GPKG", "PARQUET", "TXT", "ZIP", "XLS", "SHP",
    "Press", "Enter", "to", "apply", "YYYY", "MM", "DD", "yyyy", "mm", "dd", "Choose", "an", "option", "No",
    "results", "Skip", "main", "content", "visibility", "visibility_off",
    # system column names, which the import page's column mapping asks for by name (current_use=现状用途)
    "current_use",
    # the accounts signed in for this test
    "leader1", "planner1",
}
LAND_USE_CODES = {"W1", "M0", "M1", "B1", "R2", "G1", "S", "A"}
# IDs and codes: parcel P00001-01, park P00001, firm F0000001, project R00001, grid G..., credit codes,
# land-use classes (W1, M0, B1, R2, G1, S, A), dataset versions v7, the tile attribution
ID_PATTERN = re.compile(r"^(?:[PFRGI]\d{4,}(?:-\d+)?|G\d{12}-\d+|[0-9A-Z]{18}|v\d+)$")
# a word is a run of letters, digits and underscores holding a letter: a credit code is one word
WORD = re.compile(r"[A-Za-z0-9_]+(?:[-'][A-Za-z0-9]+)*")


# a link column's address (/remediation?park=P00002), which a table's accessible copy carries: the cell
# itself shows its label (查看)
APP_LINK = re.compile(r"/(?:overview|land|remediation|firms|import|audit)?\?[\w=&%.\-]*")


def stray_words(text: str) -> list[str]:
    """Latin words in text that are not allowed on the Chinese UI."""
    text = APP_LINK.sub(" ", text)
    words = {w for w in WORD.findall(text) if re.search("[A-Za-z]", w)}
    return sorted(w for w in words if w not in ALLOWED_WORDS | LAND_USE_CODES and not ID_PATTERN.match(w))
