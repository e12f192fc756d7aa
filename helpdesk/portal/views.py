"""Portal views for signed-in customers: load, check, call one service, render or redirect."""

from functools import wraps

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from helpdesk.accounts.auth import current_actor, home_for
from helpdesk.errors import DomainError, NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.portal import bp, conversation, messages, queries
from helpdesk.portal.forms import TicketForm
from helpdesk.portal.limits import per_account, per_ip
from helpdesk.portal.uploads import limits, markdown_html, uploads_from_request
from helpdesk.settings import category_names, get_setting, team_for_category
from helpdesk.tickets.models import Channel, Priority
from helpdesk.tickets.services import follow_merges, get_ticket, open_ticket
from helpdesk.tickets.states import Status


def customer_required(view):
    """Signed in as a customer; agents have their console."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if current_user.is_staff:
            return redirect(home_for(current_user))
        return view(*args, **kwargs)

    return wrapper


def _urls(number: int) -> conversation.TicketUrls:
    return conversation.TicketUrls(
        page=url_for("portal.ticket", number=number),
        reply=url_for("portal.reply", number=number),
        solve=url_for("portal.solve", number=number),
        reopen=url_for("portal.reopen", number=number),
        attachment=lambda a: url_for(
            "portal.attachment", number=number, attachment_id=a.id, filename=a.filename
        ),
        other=lambda t: url_for("portal.ticket", number=t.number),
    )


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/tickets")
@customer_required
def my_tickets():
    state = request.args.get("state", "all")
    if state not in queries.STATES:
        state = "all"
    actor = current_actor()
    page = queries.my_requests(actor, state=state, after=request.args.get("after"))
    return render_template(
        "portal/tickets.html",
        page=page,
        state=state,
        is_manager=bool(actor.user.org_manager),
        my_contact_id=actor.contact.id if actor.contact else None,
    )


def _ticket_form() -> TicketForm:
    form = TicketForm()
    names = category_names()
    form.category.choices = [SelectChoice("", _("Choose…"))] + [SelectChoice(n) for n in names]
    return form


def _render_new(form: TicketForm, errors: dict | None = None, status: int = 200):
    g.page_url = url_for("portal.new_ticket")
    page = render_template(
        "portal/new.html",
        form=form,
        errors=errors or {},
        has_categories=bool(category_names()),
        customer_priority=get_setting("customer_priority"),
        limits=limits(),
    )
    return page, status


def _chosen_priority(value: str | None) -> Priority | None:
    """The customer's choice where the business lets customers set it (else the default)."""
    if not get_setting("customer_priority"):
        return None
    try:
        return Priority(value)
    except ValueError:
        return None


@bp.route("/tickets/new", methods=["GET", "POST"])
@customer_required
@per_ip("HELPDESK_SUBMIT_RATE_LIMIT")
@per_account("HELPDESK_SUBMIT_RATE_LIMIT")
def new_ticket():
    form = _ticket_form()
    if not form.validate_on_submit():
        return _render_new(form, status=400 if request.method == "POST" else 200)
    actor = current_actor()
    try:
        ticket = open_ticket(
            actor,
            requester=actor.contact,
            subject=form.subject.data,
            body=form.body.data,
            html=markdown_html(form.body.data),
            channel=Channel.PORTAL,
            priority=_chosen_priority(form.priority.data),
            team=team_for_category(form.category.data),
            uploads=uploads_from_request(),
        )
    except ValidationError as exc:
        db.session.rollback()
        flash(messages.for_customer(exc), "error")
        return _render_new(form, messages.field_errors(exc), 400)
    db.session.commit()
    return redirect(url_for("portal.received", number=ticket.number))


@bp.route("/tickets/<int:number>/received")
@customer_required
def received(number: int):
    ticket = get_ticket(current_actor(), number)
    return render_template("portal/received.html", ticket=ticket)


@bp.route("/tickets/<int:number>")
@customer_required
def ticket(number: int):
    actor = current_actor()
    ticket = get_ticket(actor, number)
    if ticket.merged_into_id is not None:  # its conversation lives on in another ticket
        target = get_ticket(actor, follow_merges(ticket).number)
        return redirect(url_for("portal.ticket", number=target.number))
    return conversation.render_ticket(ticket, actor, _urls(number))


@bp.route("/tickets/<int:number>/reply", methods=["POST"])
@customer_required
@per_ip("HELPDESK_REPLY_RATE_LIMIT")
@per_account("HELPDESK_REPLY_RATE_LIMIT")
def reply(number: int):
    actor = current_actor()
    return conversation.reply(get_ticket(actor, number), actor, _urls(number))


@bp.route("/tickets/<int:number>/solve", methods=["POST"])
@customer_required
def solve(number: int):
    actor = current_actor()
    return conversation.set_status(get_ticket(actor, number), actor, _urls(number), Status.RESOLVED)


@bp.route("/tickets/<int:number>/reopen", methods=["POST"])
@customer_required
def reopen(number: int):
    actor = current_actor()
    return conversation.set_status(get_ticket(actor, number), actor, _urls(number), Status.OPEN)


@bp.route("/tickets/<int:number>/attachments/<int:attachment_id>/<path:filename>")
@customer_required
def attachment(number: int, attachment_id: int, filename: str):
    return conversation.send_attachment(get_ticket(current_actor(), number), attachment_id)


@bp.errorhandler(DomainError)
def refused(exc: DomainError):
    """Like the app-wide page, but in the customer's language."""
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, PermissionDenied) else 400
    page = render_template(
        "error.html", status=status, title=_("Sorry"), message=messages.for_customer(exc)
    )
    return page, status


@bp.errorhandler(413)
def too_large(exc):
    limit_mb = (request.max_content_length or 0) // (1024 * 1024)
    message = _(
        "The files are too large together (at most %(mb)s MB per message). Attach fewer or"
        " smaller files and send again.",
        mb=limit_mb,
    )
    return render_template("error.html", status=413, title=_("Too large"), message=message), 413
