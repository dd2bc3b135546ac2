"""Load the 18 regions and 101 départements (establishments/reference.py)."""

from django.db import migrations


def load(apps, schema_editor):
    from establishments.reference import load_territory

    load_territory(
        apps.get_model("establishments", "Region"), apps.get_model("establishments", "Department")
    )


class Migration(migrations.Migration):
    dependencies = [("establishments", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
