"""Reference data of the territory: the 18 regions (INSEE codes, one ARS each) and
the 101 départements with their chef-lieu. Loaded by a data migration; the seed uses
the chefs-lieux to make plausible establishment names."""

from typing import Any

# (INSEE code, name, ARS name). Mayotte has its own ARS since 2020.
REGIONS: list[tuple[str, str, str]] = [
    ("01", "Guadeloupe", "ARS Guadeloupe, Saint-Martin et Saint-Barthélemy"),
    ("02", "Martinique", "ARS Martinique"),
    ("03", "Guyane", "ARS Guyane"),
    ("04", "La Réunion", "ARS La Réunion"),
    ("06", "Mayotte", "ARS Mayotte"),
    ("11", "Île-de-France", "ARS Île-de-France"),
    ("24", "Centre-Val de Loire", "ARS Centre-Val de Loire"),
    ("27", "Bourgogne-Franche-Comté", "ARS Bourgogne-Franche-Comté"),
    ("28", "Normandie", "ARS Normandie"),
    ("32", "Hauts-de-France", "ARS Hauts-de-France"),
    ("44", "Grand Est", "ARS Grand Est"),
    ("52", "Pays de la Loire", "ARS Pays de la Loire"),
    ("53", "Bretagne", "ARS Bretagne"),
    ("75", "Nouvelle-Aquitaine", "ARS Nouvelle-Aquitaine"),
    ("76", "Occitanie", "ARS Occitanie"),
    ("84", "Auvergne-Rhône-Alpes", "ARS Auvergne-Rhône-Alpes"),
    ("93", "Provence-Alpes-Côte d'Azur", "ARS Provence-Alpes-Côte d'Azur"),
    ("94", "Corse", "ARS Corse"),
]

# (code, name, region code, chef-lieu)
DEPARTMENTS: list[tuple[str, str, str, str]] = [
    ("01", "Ain", "84", "Bourg-en-Bresse"),
    ("02", "Aisne", "32", "Laon"),
    ("03", "Allier", "84", "Moulins"),
    ("04", "Alpes-de-Haute-Provence", "93", "Digne-les-Bains"),
    ("05", "Hautes-Alpes", "93", "Gap"),
    ("06", "Alpes-Maritimes", "93", "Nice"),
    ("07", "Ardèche", "84", "Privas"),
    ("08", "Ardennes", "44", "Charleville-Mézières"),
    ("09", "Ariège", "76", "Foix"),
    ("10", "Aube", "44", "Troyes"),
    ("11", "Aude", "76", "Carcassonne"),
    ("12", "Aveyron", "76", "Rodez"),
    ("13", "Bouches-du-Rhône", "93", "Marseille"),
    ("14", "Calvados", "28", "Caen"),
    ("15", "Cantal", "84", "Aurillac"),
    ("16", "Charente", "75", "Angoulême"),
    ("17", "Charente-Maritime", "75", "La Rochelle"),
    ("18", "Cher", "24", "Bourges"),
    ("19", "Corrèze", "75", "Tulle"),
    ("2A", "Corse-du-Sud", "94", "Ajaccio"),
    ("2B", "Haute-Corse", "94", "Bastia"),
    ("21", "Côte-d'Or", "27", "Dijon"),
    ("22", "Côtes-d'Armor", "53", "Saint-Brieuc"),
    ("23", "Creuse", "75", "Guéret"),
    ("24", "Dordogne", "75", "Périgueux"),
    ("25", "Doubs", "27", "Besançon"),
    ("26", "Drôme", "84", "Valence"),
    ("27", "Eure", "28", "Évreux"),
    ("28", "Eure-et-Loir", "24", "Chartres"),
    ("29", "Finistère", "53", "Quimper"),
    ("30", "Gard", "76", "Nîmes"),
    ("31", "Haute-Garonne", "76", "Toulouse"),
    ("32", "Gers", "76", "Auch"),
    ("33", "Gironde", "75", "Bordeaux"),
    ("34", "Hérault", "76", "Montpellier"),
    ("35", "Ille-et-Vilaine", "53", "Rennes"),
    ("36", "Indre", "24", "Châteauroux"),
    ("37", "Indre-et-Loire", "24", "Tours"),
    ("38", "Isère", "84", "Grenoble"),
    ("39", "Jura", "27", "Lons-le-Saunier"),
    ("40", "Landes", "75", "Mont-de-Marsan"),
    ("41", "Loir-et-Cher", "24", "Blois"),
    ("42", "Loire", "84", "Saint-Étienne"),
    ("43", "Haute-Loire", "84", "Le Puy-en-Velay"),
    ("44", "Loire-Atlantique", "52", "Nantes"),
    ("45", "Loiret", "24", "Orléans"),
    ("46", "Lot", "76", "Cahors"),
    ("47", "Lot-et-Garonne", "75", "Agen"),
    ("48", "Lozère", "76", "Mende"),
    ("49", "Maine-et-Loire", "52", "Angers"),
    ("50", "Manche", "28", "Saint-Lô"),
    ("51", "Marne", "44", "Châlons-en-Champagne"),
    ("52", "Haute-Marne", "44", "Chaumont"),
    ("53", "Mayenne", "52", "Laval"),
    ("54", "Meurthe-et-Moselle", "44", "Nancy"),
    ("55", "Meuse", "44", "Bar-le-Duc"),
    ("56", "Morbihan", "53", "Vannes"),
    ("57", "Moselle", "44", "Metz"),
    ("58", "Nièvre", "27", "Nevers"),
    ("59", "Nord", "32", "Lille"),
    ("60", "Oise", "32", "Beauvais"),
    ("61", "Orne", "28", "Alençon"),
    ("62", "Pas-de-Calais", "32", "Arras"),
    ("63", "Puy-de-Dôme", "84", "Clermont-Ferrand"),
    ("64", "Pyrénées-Atlantiques", "75", "Pau"),
    ("65", "Hautes-Pyrénées", "76", "Tarbes"),
    ("66", "Pyrénées-Orientales", "76", "Perpignan"),
    ("67", "Bas-Rhin", "44", "Strasbourg"),
    ("68", "Haut-Rhin", "44", "Colmar"),
    ("69", "Rhône", "84", "Lyon"),
    ("70", "Haute-Saône", "27", "Vesoul"),
    ("71", "Saône-et-Loire", "27", "Mâcon"),
    ("72", "Sarthe", "52", "Le Mans"),
    ("73", "Savoie", "84", "Chambéry"),
    ("74", "Haute-Savoie", "84", "Annecy"),
    ("75", "Paris", "11", "Paris"),
    ("76", "Seine-Maritime", "28", "Rouen"),
    ("77", "Seine-et-Marne", "11", "Melun"),
    ("78", "Yvelines", "11", "Versailles"),
    ("79", "Deux-Sèvres", "75", "Niort"),
    ("80", "Somme", "32", "Amiens"),
    ("81", "Tarn", "76", "Albi"),
    ("82", "Tarn-et-Garonne", "76", "Montauban"),
    ("83", "Var", "93", "Toulon"),
    ("84", "Vaucluse", "93", "Avignon"),
    ("85", "Vendée", "52", "La Roche-sur-Yon"),
    ("86", "Vienne", "75", "Poitiers"),
    ("87", "Haute-Vienne", "75", "Limoges"),
    ("88", "Vosges", "44", "Épinal"),
    ("89", "Yonne", "27", "Auxerre"),
    ("90", "Territoire de Belfort", "27", "Belfort"),
    ("91", "Essonne", "11", "Évry-Courcouronnes"),
    ("92", "Hauts-de-Seine", "11", "Nanterre"),
    ("93", "Seine-Saint-Denis", "11", "Bobigny"),
    ("94", "Val-de-Marne", "11", "Créteil"),
    ("95", "Val-d'Oise", "11", "Cergy"),
    ("971", "Guadeloupe", "01", "Basse-Terre"),
    ("972", "Martinique", "02", "Fort-de-France"),
    ("973", "Guyane", "03", "Cayenne"),
    ("974", "La Réunion", "04", "Saint-Denis"),
    ("976", "Mayotte", "06", "Mamoudzou"),
]

# FINESS categories (DOMAIN.md, partly verified): code -> label.
FINESS_CATEGORIES: dict[str, str] = {
    "101": "Centre hospitalier régional (CHR)",
    "106": "Centre hospitalier, ex-hôpital local",
    "109": "Établissement de soins de suite et de réadaptation",
    "114": "Hôpital des armées",
    "122": "Établissement de soins obstétriques et chirurgicaux",
    "128": "Établissement de soins chirurgicaux",
    "129": "Établissement de soins médicaux",
    "131": "Centre de lutte contre le cancer (CLCC)",
    "292": "Centre hospitalier spécialisé en psychiatrie (CHS)",
    "355": "Centre hospitalier (CH)",
    "362": "Établissement de soins de longue durée",
    "365": "Établissement de soins pluridisciplinaire",
}


# FINESS numbers start with two characters naming the territory: the département
# code in metropolitan France (2A/2B in Corsica), 97 for the overseas départements
# and collectivities of the Antilles, Guyane, La Réunion and Saint-Pierre-et-Miquelon
# (971-975, and 977/978, Saint-Barthélemy and Saint-Martin, numbered from
# Guadeloupe), and 98 for Mayotte (976), whose numbers kept the prefix of its former
# code 985.
FINESS_PREFIX_MAYOTTE = "98"

# In the FINESS extracts the overseas départements are coded 9A-9F (the INSEE code
# is in the numbers and the commune codes): extract code -> INSEE code. Any other
# code of that form is reported as unknown by the imports, never guessed.
FINESS_OVERSEAS_DEPARTMENTS: dict[str, str] = {
    "9A": "971",  # Guadeloupe
    "9B": "972",  # Martinique
    "9C": "973",  # Guyane
    "9D": "974",  # La Réunion
    "9E": "975",  # Saint-Pierre-et-Miquelon
    "9F": "976",  # Mayotte
}


def finess_prefix_for_department(code: str) -> str:
    """The two first characters of the FINESS numbers of a département: its code,
    97 overseas, 98 for Mayotte (976)."""
    if code == "976":
        return FINESS_PREFIX_MAYOTTE
    return "97" if code.startswith("97") else code


def department_code_from_finess_extract(code: str) -> str:
    """The INSEE code of a département as a FINESS extract writes it (9A -> 971;
    01, 2A and 971 are returned as they are)."""
    code = code.strip().upper()
    return FINESS_OVERSEAS_DEPARTMENTS.get(code, code)


def load_territory(region_model: Any, department_model: Any) -> None:
    """Create or refresh the regions and départements (idempotent)."""
    if department_model.objects.count() == len(DEPARTMENTS) and region_model.objects.count() == len(
        REGIONS
    ):
        return
    regions = {}
    for code, name, ars_name in REGIONS:
        regions[code], _ = region_model.objects.update_or_create(
            code=code, defaults={"name": name, "ars_name": ars_name}
        )
    for code, name, region_code, chef_lieu in DEPARTMENTS:
        department_model.objects.update_or_create(
            code=code,
            defaults={"name": name, "region": regions[region_code], "chef_lieu": chef_lieu},
        )
