"""Every stable refusal code, defined once: its HTTP status and what it means.

A client matches on `code`; this is the list it can rely on (docs/errors.md is
generated from it). The meanings say what happened, for whoever writes a client; the
sentences people read for a particular refusal are in node/errors/catalogue.

A code the inbox sends back in a `Reject` (its `summary`) carries no HTTP status; it
is registered with the status it would have, so a code means one thing everywhere.
`http-error` alone has no fixed status: it passes on an HTTP error of the framework.

This module sits below every layer and imports nothing of ours: node/errors/__init__.py checks
each Problem against it (tests/test_error_registry.py says how)."""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    code: str
    status: int | None  # None: any (only `http-error`)
    es: str
    en: str


C = Code
_CODES = [
    # --- who may act ------------------------------------------------------------------
    C("unauthenticated", 401, "No se envió sesión ni token válido.",
      "No valid session or bearer token was sent."),
    C("bad-token", 401, "El token de API no existe o fue revocado.",
      "The API token is unknown or was revoked."),
    C("bad-credentials", 401, "Usuario o contraseña incorrectos.",
      "Wrong username or password."),
    C("too-many-attempts", 429, "Demasiados ingresos fallidos; hay que esperar.",
      "Too many failed logins from here; wait before trying again."),
    C("forbidden", 403, "Quien pide no tiene permiso para esta acción en esta instancia.",
      "The requester may not take this action in this body."),
    C("csrf", 403, "El formulario no trae un token CSRF válido (venció o falta).",
      "The form's CSRF token is missing or expired."),
    C("session-ended", 403, "La sesión de quien envió el formulario ya se había cerrado.",
      "The session of whoever sent the form had ended."),
    C("wrong-password", 403, "La contraseña actual no es correcta.",
      "The current password given is wrong."),
    C("blocked", 403, "El servidor que envía está bloqueado en este nodo.",
      "The sending server is blocked on this node."),
    # --- accounts and invitations -----------------------------------------------------
    C("weak-password", 422, "La contraseña es demasiado corta.", "The password is too short."),
    C("passwords-differ", 422, "Las dos contraseñas nuevas no coinciden.",
      "The two new passwords differ."),
    C("bad-username", 422, "El nombre de usuario tiene caracteres o largo no válidos.",
      "The username has characters or a length not allowed."),
    C("username-taken", 409, "Ya existe una cuenta con ese nombre de usuario.",
      "An account with that username exists."),
    C("bad-role", 422, "El rol pedido no existe.", "The role asked for does not exist."),
    C("bad-expiry", 422, "La vigencia de la invitación está fuera de 1 a 60 días.",
      "The invitation's validity is outside 1 to 60 days."),
    C("invitation-expired", 410, "La invitación venció.", "The invitation has expired."),
    C("invitation-used", 410, "La invitación ya fue usada.", "The invitation was used."),
    C("invitation-revoked", 410, "La invitación fue retirada.",
      "The invitation was withdrawn."),
    C("invitation-closed", 409, "La invitación ya fue usada o retirada: no se puede retirar.",
      "The invitation was used or withdrawn already: it cannot be withdrawn."),
    C("reset-invalid", 410, "El enlace para cambiar la contraseña no sirve (usado, vencido "
      "o inexistente).", "The password reset link is used, expired or unknown."),
    C("last-coordinator", 409, "Se quitaría la última persona de la coordinación.",
      "The action would leave the body without a coordinator."),
    C("not-possible", 409, "Esa acción no aplica a esta persona en su rol actual.",
      "The action does not apply to this member in their present role."),
    # --- bodies and statutes ----------------------------------------------------------
    C("bad-name", 422, "El nombre falta o es demasiado largo.",
      "The name is missing or too long."),
    C("name-taken", 409, "Ya hay una instancia con ese nombre en este nodo.",
      "A body with that name exists on this node."),
    C("bad-kind", 422, "El tipo de instancia no existe.", "The kind of body does not exist."),
    C("bad-summary", 422, "La descripción es demasiado larga.",
      "The description is too long."),
    C("bad-statute", 422, "Un valor del estatuto no es válido.",
      "A statute value is not valid."),
    C("bad-slug", 422, "El nombre corto no es de minúsculas, dígitos y guiones.",
      "The short name is not lowercase letters, digits and dashes."),
    # --- proposals, amendments, votes, decisions --------------------------------------
    C("bad-title", 422, "El título falta o es demasiado largo.",
      "The title is missing or too long."),
    C("bad-text", 422, "El texto falta.", "The text is missing."),
    C("bad-state", 409, "El estado actual de la cosa no permite esta acción.",
      "The thing's present state does not allow this action."),
    C("bad-execution-state", 422, "El estado de ejecución pedido no es uno de los posibles.",
      "The execution state asked for is not one of the possible ones."),
    C("bad-filter", 422, "El filtro de estado pedido no existe.",
      "The state filter asked for does not exist."),
    C("bad-deadline", 422, "La fecha de cierre o de vencimiento ya pasó.",
      "The closing or expiry time is in the past."),
    C("bad-choice", 422, "La opción de voto no existe (o el bloqueo sin consenso).",
      "The vote choice does not exist (or blocks outside consent)."),
    C("block-needs-reason", 422, "Un bloqueo sin razón.", "A block without its reason."),
    C("vote-closed", 409, "La votación no está abierta.", "The vote is not open."),
    C("not-due", 409, "La votación cierra en su plazo, no antes.",
      "The vote closes at its deadline, not before."),
    C("wrong-version", 409, "El voto o mandato es para otra versión del texto.",
      "The vote or mandate is for another version of the text."),
    C("amendment-vote-open", 409, "Una enmienda sigue en votación; la votación final espera.",
      "An amendment is still being voted on; the final vote waits."),
    C("stale-amendment", 409, "La enmienda se escribió sobre una versión anterior.",
      "The amendment was written against an earlier version."),
    C("federated-text", 409, "El texto es de la federación: se enmienda allá.",
      "The text is the federation's: it is amended there."),
    C("votes-by-mandate", 409, "En este asunto votan las instancias miembro por mandato.",
      "Member bodies vote on this matter through mandates."),
    C("not-adopted", 409, "Solo una decisión aprobada se ejecuta.",
      "Only an adopted decision is carried out."),
    C("federation-pending", 409, "La federación aún no decide el asunto: se ejecuta lo que "
      "ella decida.", "The federation has not decided the matter yet: what it decides is "
      "carried out."),
    C("not-carried-out", 409, "Solo una decisión ejecutada se evalúa.",
      "Only a carried-out decision is evaluated."),
    C("already-evaluated", 409, "Esta persona ya evaluó la decisión.",
      "This member has evaluated the decision already."),
    C("bad-score", 422, "La puntuación no está entre 1 y 5.", "The score is not 1 to 5."),
    C("bad-date", 422, "La fecha y hora faltan o no se entienden.",
      "The date and time are missing or not understood."),
    C("future-assembly", 422, "La fecha de la asamblea está en el futuro.",
      "The assembly's date is in the future."),
    C("bad-attendance", 422, "Asistencia o familias negativas, o más familias que personas.",
      "Attendance or families below zero, or more families than people."),
    C("bad-counts", 422, "Los votos contados son negativos o pasan de la asistencia.",
      "The counted votes are negative or exceed the attendance."),
    # --- assemblies called ahead (the calendar) --------------------------------------
    C("missing-place", 422, "La convocatoria no dice dónde se reúne la asamblea.",
      "The call does not say where the assembly meets."),
    C("past-assembly", 422, "Se convoca una asamblea para una hora que ya pasó.",
      "The assembly is called for a time already past."),
    C("far-assembly", 422, "La asamblea se convoca para más de tres años adelante.",
      "The assembly is called more than three years ahead."),
    C("bad-assembly-end", 422, "El fin de la asamblea no viene después del inicio, dentro "
      "del mismo día.", "The assembly's end is not after its start, within a day."),
    C("bad-agenda", 422, "El orden del día nombra una propuesta que no está abierta en "
      "esta instancia.", "The agenda names a proposal not open in this body."),
    C("assembly-not-met", 409, "La asamblea convocada todavía no se ha reunido.",
      "The called assembly has not met yet."),
    # --- federations, matters and mandates --------------------------------------------
    C("unknown-federation", 422, "La dirección no lleva a una federación alcanzable.",
      "The address leads to no federation that can be reached."),
    C("self-join", 409, "Una instancia pidió unirse a sí misma.",
      "A body asked to join itself."),
    C("bad-families", 422, "El número de familias declarado está fuera de rango.",
      "The declared number of families is out of range."),
    C("graph-unreachable", 503, "El grafo de federaciones no se puede leer ahora.",
      "The federation graph cannot be read now."),
    C("federation-unreachable", 503, "La federación no respondió ahora; reintentar.",
      "The federation did not answer now; retry later."),
    C("no-route", 409, "Ninguna federación reúne a todas las instancias afectadas.",
      "No federation covers every affected body."),
    C("proposal-is-draft", 409, "Un borrador no se envía a la federación.",
      "A draft is not sent up to a federation."),
    C("proposal-withdrawn", 409, "Una propuesta retirada no se envía a la federación.",
      "A withdrawn proposal is not sent up to a federation."),
    C("already-sent", 422, "La propuesta ya fue enviada a la federación.",
      "The proposal was sent up already."),
    C("not-ours", 422, "Lo nombrado no es de esta instancia.",
      "What is named does not belong to this body."),
    C("not-member", 422, "La instancia o persona nombrada no es miembro.",
      "The body or person named is not a member."),
    C("not-federated", 409, "El asunto no vino de una federación: no lleva mandato.",
      "The matter did not come from a federation: it takes no mandate."),
    C("not-decided", 409, "La instancia no ha decidido su posición.",
      "The body has not decided its position."),
    C("matter-decided", 409, "La federación ya decidió el asunto: no lleva más mandatos, "
      "votos ni cambios de posición.", "The federation has decided the matter: it takes no "
      "more mandates, votes or changes of position."),
    C("unknown-position", 422, "La posición del mandato no es una de las que existen.",
      "The mandate's position is not one that exists."),
    C("position-contradicts-decision", 422, "La posición contradice lo que la instancia "
      "decidió.", "The position contradicts what the body decided."),
    C("bad-mandate", 422, "Aprobar con enmiendas sin nombrar las enmiendas.",
      "Approval with amendments names no amendment."),
    C("bad-spokesperson", 422, "Un vocero nombrado no es integrante de la instancia.",
      "A spokesperson named is not a member of the body."),
    C("not-spokesperson", 403, "Quien vota no es vocero de este mandato.",
      "The voter is not a spokesperson of this mandate."),
    C("outside-mandate", 403, "El voto no cabe en la posición del mandato.",
      "The vote falls outside the mandate's position."),
    C("mandate-not-live", 409, "El mandato fue revocado, reemplazado o venció.",
      "The mandate was recalled, replaced or has expired."),
    C("wrong-federation", 422, "El mandato es para otra federación.",
      "The mandate is for another federation."),
    C("unknown-matter", 422, "La federación no tiene ese asunto.",
      "The federation has no such matter."),
    C("no-mandate", 422, "El voto no tiene un mandato detrás.",
      "No mandate stands behind the vote."),
    C("foreign-mandate", 422, "El mandato no es de esa instancia para ese asunto.",
      "The mandate is not that body's for that matter."),
    C("replayed", 422, "Ese mandato o voto ya se recibió.",
      "That mandate or vote was received already."),
    # --- economy ----------------------------------------------------------------------
    C("bad-quantity", 422, "La cantidad no es un número válido.",
      "The quantity is not a valid number."),
    C("bad-side", 422, "El lado no es oferta ni necesidad.", "The side is neither offer "
      "nor need."),
    C("bad-window", 422, "La ventana de espera no es válida.",
      "The waiting window is not valid."),
    C("bad-label", 422, "El tipo de recurso no tiene nombre en español.",
      "The resource kind has no Spanish name."),
    C("bad-unit", 422, "Una unidad se nombra a sí misma.", "A unit names a unit of its own."),
    C("unknown-kind", 422, "El tipo de recurso no está en el catálogo.",
      "The resource kind is not in the catalogue."),
    C("unknown-unit", 422, "La unidad no existe o no sirve para ese recurso.",
      "The unit does not exist or does not fit that resource."),
    C("unit-mismatch", 422, "La unidad no es la del recurso o del compromiso.",
      "The unit is not the resource's or the commitment's."),
    C("unknown-body", 422, "La instancia nombrada no existe o no se puede alcanzar.",
      "The body named does not exist or cannot be reached."),
    C("exists", 409, "Eso ya existe.", "That exists already."),
    C("not-available", 409, "No queda tanto disponible.", "Not that much is available."),
    C("too-much", 422, "La entrega pasa de lo que falta entregar.",
      "The delivery exceeds what remains to be delivered."),
    C("nothing-left", 409, "Todo lo comprometido ya fue entregado.",
      "Everything committed is delivered."),
    C("answered", 409, "La entrega ya fue confirmada u objetada.",
      "The delivery was confirmed or disputed already."),
    C("not-open", 409, "El compromiso no está abierto.", "The commitment is not open."),
    C("not-proposed", 409, "El intercambio o plan ya no espera respuestas.",
      "The exchange or plan no longer waits for answers."),
    C("not-asked", 409, "A quien responde no se le preguntó.",
      "Whoever answers was not asked."),
    C("not-a-party", 403, "Quien actúa no es parte de ese intercambio, plan o compromiso.",
      "Whoever acts is not a party to that exchange, plan or commitment."),
    C("not-provider", 403, "Solo quien entrega registra la entrega.",
      "Only the provider records a delivery."),
    C("not-receiver", 403, "Solo quien recibe confirma la entrega.",
      "Only the receiver confirms a delivery."),
    C("empty-exchange", 409, "El intercambio no tiene compromisos.",
      "The exchange has no commitment."),
    C("exhausted", 409, "Lo pedido es más de lo que queda de una oferta o necesidad.",
      "What is asked exceeds what is left of an offer or need."),
    C("withdrawn", 409, "Una oferta o necesidad pedida fue retirada.",
      "An offer or need asked for was withdrawn."),
    C("wrong-kind", 422, "El recurso no es del tipo comprometido.",
      "The resource is not of the kind committed."),
    C("agreement-differs", 422, "El acuerdo no es el intercambio que se propuso.",
      "The agreement is not the exchange that was proposed."),
    C("empty-notice", 422, "El aviso público no tiene texto.",
      "The public notice has no text."),
    # --- project bank -----------------------------------------------------------------
    C("empty-record", 422, "La experiencia no dice ni el problema ni lo aprendido.",
      "The project record says neither the problem nor what was learned."),
    C("private-record", 409, "Una instancia privada no publica experiencias en el banco.",
      "A private body does not publish records to the project bank."),
    C("own-record", 409, "Una instancia no adopta su propia experiencia.",
      "A body does not adopt its own record."),
    C("adopted", 409, "La instancia ya adoptó esa experiencia.",
      "The body adopted that record already."),
    # --- any request, forms and the JSON API ------------------------------------------
    C("not-found", 404, "Lo pedido no existe (o no es visible para quien pide).",
      "What was asked for does not exist (or is not visible to the requester)."),
    C("method-not-allowed", 405, "El método HTTP no sirve en esta dirección.",
      "The HTTP method does not apply to this address."),
    C("http-error", None, "Otro error HTTP del marco web; el estado dice cuál.",
      "Another HTTP error of the web framework; the status says which."),
    C("invalid-request", 422, "El cuerpo o los parámetros no tienen la forma de la API.",
      "The body or parameters do not fit the API."),
    C("too-many-streams", 429, "Esa llave ya tiene abiertas todas las transmisiones de "
      "eventos que se permiten.", "That token already holds as many event streams as "
      "allowed."),
    C("bad-cursor", 400, "El cursor de paginación no es uno dado por la API.",
      "The pagination cursor is not one the API gave out."),
    C("bad-form", 400, "El formulario trae caracteres que no se pueden guardar.",
      "The form holds characters that cannot be stored."),
    C("nul-character", 400, "La dirección trae caracteres NUL.",
      "The address contains NUL characters."),
    C("too-large", 413, "El cuerpo pasa del tamaño permitido.",
      "The body exceeds the size allowed."),
    C("unsupported-media-type", 415, "El cuerpo no viene como application/json "
      "(falta el Content-Type o es otro).",
      "The body is not sent as application/json (no Content-Type, or another)."),
    C("too-deep", 400, "El JSON está anidado más de lo permitido.",
      "The JSON is nested deeper than allowed."),
    C("changed-meanwhile", 409, "Otra persona cambió lo mismo a la vez; nada se escribió.",
      "Someone changed the same thing meanwhile; nothing was written."),
    C("server-error", 500, "Falló el servidor; el campo reference lo ubica en el registro.",
      "The server failed; the reference field finds it in the log."),
    # --- ActivityPub and the inbox ----------------------------------------------------
    C("missing-resource", 400, "WebFinger sin el parámetro resource.",
      "WebFinger without its resource parameter."),
    C("no-such-actor", 404, "No hay actor con ese nombre en este nodo.",
      "No actor by that name on this node."),
    C("bad-content-type", 400, "El tipo de contenido no es de ActivityPub.",
      "The content type is not ActivityPub's."),
    C("bad-content-length", 400, "Content-Length no es un número.",
      "Content-Length is not a number."),
    C("bad-json", 400, "El cuerpo no es JSON.", "The body is not JSON."),
    C("bad-activity", 400, "El cuerpo no es una actividad (sin id http(s), sin tipo, NUL).",
      "The body is no activity (no http(s) id, no type, NUL characters)."),
    C("bad-signature", 401, "La firma HTTP falta o no verifica.",
      "The HTTP signature is missing or does not verify."),
    C("wrong-authority", 401, "La firma no cubre el host y la ruta de este nodo.",
      "The signature does not cover this node's host and path."),
    C("not-the-actor", 403, "Quien firma no es el actor de la actividad.",
      "The signer is not the activity's actor."),
    C("key-unavailable", 503, "La clave del firmante no se pudo traer ahora; reintentar.",
      "The signer's key could not be fetched now; retry later."),
    C("too-many-key-fetches", 429, "Se frenan las búsquedas de claves de ese servidor.",
      "Key fetches for that server are being held back."),
    C("malformed", 422, "El objeto federado no tiene la forma esperada.",
      "The federated object does not have the expected shape."),
    C("bad-proof", 422, "La prueba de integridad del objeto no verifica.",
      "The object's integrity proof does not verify."),
    C("foreign-object", 422, "El objeto no es de la instancia que lo envía.",
      "The object is not by the body that sent it."),
    # Sent back in a Reject (no HTTP answer): the status is what the code would have.
    C("unknown-signer", 401, "La clave del firmante no existe o no se puede traer nunca.",
      "The signer's key does not exist or can never be fetched."),
    C("no-such-body", 404, "Ninguna instancia de aquí recibe esto.",
      "No body here receives this."),
    C("unknown-commitment", 404, "Ese compromiso no se conoce aquí.",
      "That commitment is not known here."),
    C("names-nothing-here", 404, "La respuesta nombra algo que aquí no se conoce.",
      "The answer names something unknown here."),
    C("not-addressee", 403, "Responde quien no fue el destinatario.",
      "The answer comes from someone who was not addressed."),
    C("not-the-sender", 403, "La actividad no viene de su propio actor.",
      "The activity does not come from its own actor."),
    C("not-the-follower", 403, "Solo quien sigue retira su seguimiento.",
      "Only the follower takes its Follow back."),
    C("not-the-proposer", 403, "Solo quien propuso el intercambio lo sella.",
      "Only the exchange's proposer seals it."),
    C("not-owner", 403, "Quien envía no es dueño de lo que cambia o borra.",
      "The sender does not own what it changes or deletes."),
    C("not-followed", 403, "Ninguna instancia de aquí pidió seguir a quien envía.",
      "No body here asked to follow the sender."),
    C("not-a-member", 403, "Quien envía no es instancia miembro de esta.",
      "The sender is not a member body of this body."),
    C("not-our-federation", 403, "Quien envía no es una federación de esta instancia.",
      "The sender is not a federation of this body."),
    C("not-linked", 403, "Quien envía no tiene vínculo federativo con esta instancia.",
      "The sender shares no federation link with this body."),
]

# Codes clients may have matched on that now say what happened: (old, new, when). An
# old code is never registered again with another meaning.
RENAMED: list[tuple[str, str, str]] = [
    ("position-contradicts-decision", "unknown-position",
     "the mandate's position does not exist (the old code stays for a known position "
     "the decision does not allow)"),
    ("empty", "empty-exchange", "an exchange with no commitment is answered"),
    ("empty", "empty-record", "a project record says neither problem nor lesson"),
    ("bad-state", "bad-execution-state", "the execution state asked for is not "
     "in_progress or carried_out (422; `bad-state` stays the 409 for a state that "
     "forbids the action)"),
    ("changed", "agreement-differs", "an Agreement is not the exchange proposed"),
    ("internal", "server-error", "a plan could not be prepared"),
]

CODES: dict[str, Code] = {c.code: c for c in _CODES}
assert len(CODES) == len(_CODES), "a code registered twice"


def registered(code: str) -> Code | None:
    return CODES.get(code)


def mismatch(status: int, code: str) -> str | None:
    """Why a refusal with this status and code is not what the registry says; None when
    it is."""
    known = CODES.get(code)
    if known is None:
        return f"code {code!r} is not registered in node/errors/codes.py"
    if known.status is not None and known.status != status:
        return f"code {code!r} is registered with status {known.status}, raised with {status}"
    return None
