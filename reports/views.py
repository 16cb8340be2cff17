"""Pages without login, reached from report e-mails. Tokens are signed; a bad one is a 400 page, never a 500."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from reports.delivery import TokenRefused, download_run, unsubscribe


@csrf_exempt  # RFC 8058: mail providers POST "List-Unsubscribe=One-Click" with no cookie and no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request, token: str):
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST unsubscribes."""
    if request.method == "GET":
        return render(request, "reports/unsubscribe.html", {"token": token, "done": False})
    try:
        recipient = unsubscribe(token=token)
    except TokenRefused as exc:
        return render(request, "reports/unsubscribe.html", {"error": str(exc)}, status=400)
    return render(request, "reports/unsubscribe.html", {"done": True, "email": recipient.email})


@require_http_methods(["GET"])
def download_view(request, token: str):
    from chatapp.kernel.errors import ProblemException

    try:
        run, pdf = download_run(token=token)
    except TokenRefused as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    except ProblemException as exc:
        return HttpResponse(str(exc.detail), status=exc.status_code, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="report-{run.report_id}-run-{run.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
