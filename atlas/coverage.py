"""Coverage for the regional offices (placeholder: being built)."""
from flask import Blueprint

bp = Blueprint("coverage", __name__)
