"""Load the 18 regions and 101 départements (establishments/reference.py)."""

from django.db import migrations


def load(apps, schema_editor):
    from establishments.reference import DEPARTMENTS, REGIONS

    Region = apps.get_model("establishments", "Region")
    Department = apps.get_model("establishments", "Department")
    regions = {}
    for code, name, ars_name in REGIONS:
        regions[code], _ = Region.objects.update_or_create(
            code=code, defaults={"name": name, "ars_name": ars_name}
        )
    for code, name, region_code, chef_lieu in DEPARTMENTS:
        Department.objects.update_or_create(
            code=code,
            defaults={"name": name, "region": regions[region_code], "chef_lieu": chef_lieu},
        )


class Migration(migrations.Migration):
    dependencies = [("establishments", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
