"""The customer portal: thin views over the ticket and account services."""

from flask import Blueprint

bp = Blueprint("portal", __name__)

from helpdesk.portal import account, guest, views  # noqa: E402,F401
