"""The queue: built-in and saved views with live counts, filters, keyset pages, bulk actions."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.agent.common import assignee_choices, form_errors, local_target, refuse, team_choices
from helpdesk.agent.forms import BulkForm, SaveViewForm, as_choices
from helpdesk.contacts.models import Organization
from helpdesk.errors import DomainError, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets import bulk, queries, saved_views
from helpdesk.tickets.models import Ticket

_SHOWN = (
    selectinload(Ticket.requester),
    selectinload(Ticket.assignee),
    selectinload(Ticket.team),
    selectinload(Ticket.tags),
)


def view_title(view: queries.View) -> str:
    """A built-in view's title in the agent's language (helpdesk.tickets.queries marks them)."""
    return _(view.title)


def sort_title(sort: queries.Sort) -> str:
    return _(sort.title)


_BULK_FIELD = {
    "assign": "assignee",
    "team": "team",
    "status": "status",
    "priority": "priority",
    "tag": "tag",
    "untag": "tag",
    "merge": "target",
}


def _chosen_view(actor, args):
    """(filter, sort name, title, the view's key) for the request's view and filter args."""
    explicit = queries.parse_filter(args.to_dict(flat=False))
    saved_id = args.get("saved", type=int)
    if saved_id:
        view = saved_views.get_view(actor, saved_id)
        base = queries.filter_from_json(view.filters)
        return base.merged(explicit), view.sort, view.name, f"s{view.id}"
    builtin = queries.builtin_view(args.get("view", ""))
    if builtin is None and explicit.is_empty:
        builtin = queries.DEFAULT_VIEW
    if builtin is not None:
        return builtin.filter.merged(explicit), builtin.sort, view_title(builtin), builtin.key
    same = next((v for v in queries.BUILTIN_VIEWS if v.filter == explicit), None)
    if same is not None:
        return explicit, same.sort, view_title(same), same.key
    return explicit, "updated", _("Filtered tickets"), None


def _page_args(args) -> dict:
    """This page's query-string arguments without its cursor (for page and sort links)."""
    return {k: v for k, v in args.to_dict(flat=False).items() if k not in ("after", "before")}


@bp.route("/")
def queue():
    actor = current_actor()
    status = 200
    try:
        f, sort_name, title, current = _chosen_view(actor, request.args)
    except DomainError as exc:
        status = refuse(exc)
        f, sort_name, title, current = (
            queries.DEFAULT_VIEW.filter,
            "updated",
            view_title(queries.DEFAULT_VIEW),
            queries.DEFAULT_VIEW.key,
        )
    sort_name = request.args.get("sort") or sort_name
    sort = queries.SORTS.get(sort_name, queries.SORTS["updated"])
    try:
        page = queries.fetch_page(
            actor,
            f,
            sort,
            after=request.args.get("after"),
            before=request.args.get("before"),
            size=request.args.get("size", queries.PAGE_SIZE, type=int),
            options=_SHOWN,
        )
    except ValidationError as exc:
        status = refuse(exc)
        page = queries.fetch_page(actor, f, sort, options=_SHOWN)
    views = saved_views.views_for(actor)
    counted = {v.key: v.filter for v in queries.BUILTIN_VIEWS}
    counted.update({f"s{v.id}": queries.filter_from_json(v.filters) for v in views})
    counts = queries.count_views(actor, counted)
    bulk_form = BulkForm()
    bulk_form.assignee.choices = as_choices(assignee_choices(with_me=True))
    bulk_form.team.choices = as_choices(team_choices())
    page_args = _page_args(request.args)
    return render_template(
        "agent/queue.html",
        page=page,
        title=title,
        current=current,
        queue_filter=f,
        sort=sort,
        sorts=queries.SORTS.values(),
        builtin_views=queries.BUILTIN_VIEWS,
        saved=views,
        counts={k: queries.format_count(n) for k, n in counts.items()},
        bulk_form=bulk_form,
        save_form=SaveViewForm(),
        page_args=page_args,
        assignees=assignee_choices(),
        team_options=team_choices(),
        organizations=db.session.execute(
            select(Organization.id, Organization.name).order_by(Organization.name)
        ).all(),
        statuses=[s for s in queries.Status],
        priorities=[p for p in queries.Priority],
        channels=[c for c in queries.Channel],
        view_title=view_title,
        sort_title=sort_title,
    ), status


@bp.post("/bulk")
def bulk_action():
    actor = current_actor()
    back = local_target(request.form.get("next"), url_for("agent.queue"))
    form = BulkForm()
    action = request.form.get("action", "")
    if not form.validate_on_submit():
        form_errors(form)
        return redirect(back)
    numbers = [int(n) for n in request.form.getlist("ticket") if n.isdigit()]
    value = request.form.get(_BULK_FIELD.get(action, ""), "")
    try:
        result = bulk.apply_bulk(actor, numbers, action, value)
    except DomainError as exc:
        refuse(exc)
        return redirect(back)
    db.session.commit()
    if result.done:
        # "ticket(s)" in English whatever the number; other languages say it their way.
        done = ngettext(
            "Done for %(num)s ticket(s): %(numbers)s.",
            "Done for %(num)s ticket(s): %(numbers)s.",
            len(result.done),
            numbers=_numbers(result.done),
        )
        flash(done, "info")
    for number, why in result.failed:
        flash(_("#%(number)s: %(reason)s", number=number, reason=why.translated()), "error")
    return redirect(back)


def _numbers(numbers: list[int]) -> str:
    shown = ", ".join(f"#{n}" for n in numbers[:10])
    if len(numbers) <= 10:
        return shown
    more = len(numbers) - 10
    return ngettext(
        "%(numbers)s and %(num)s more", "%(numbers)s and %(num)s more", more, numbers=shown
    )


@bp.post("/views")
def save_view():
    actor = current_actor()
    form = SaveViewForm()
    if not form.validate_on_submit():
        form_errors(form)
        return redirect(url_for("agent.queue"))
    try:
        queue_filter = queries.parse_filter(request.form.to_dict(flat=False))
        view = saved_views.save_view(
            actor,
            name=form.name.data,
            queue_filter=queue_filter,
            sort=request.form.get("sort", "updated"),
            shared=form.shared.data,
        )
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("agent.queue"))
    db.session.commit()
    flash(_("Saved the view “%(name)s”.", name=view.name), "info")
    return redirect(url_for("agent.queue", saved=view.id))


@bp.post("/views/<int:view_id>/delete")
def delete_view(view_id: int):
    try:
        saved_views.delete_view(current_actor(), view_id)
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("agent.queue"))
    db.session.commit()
    flash(_("The view was deleted."), "info")
    return redirect(url_for("agent.queue"))
