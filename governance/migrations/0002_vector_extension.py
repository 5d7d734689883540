"""Enable pgvector: works carry embeddings in ``vector`` columns with HNSW indexes."""

from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial")]
    operations = [VectorExtension()]
