"""A test SAML identity provider: real RSA keys and X.509 certificates made with `cryptography`, responses and
logout requests signed (and encrypted) with python3-saml's and xmlsec's primitives, exactly as an IdP would.

    idp = TestIdP()
    xml = idp.response(acs=..., audience=..., name_id="ann@acme.test", in_response_to=request_id)
    client.post(acs_path, {"SAMLResponse": idp.encode(xml)})

Every part of a response can be overridden or removed (None) so the tests can build each attack."""

import base64
import datetime
import uuid
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
UNSET = object()


def keypair(cn="Test IdP", *, days=365, not_before_days=1, bits=2048) -> tuple[str, str]:
    """(private key PEM, certificate PEM), self-signed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=not_before_days))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem_key, cert.public_bytes(serialization.Encoding.PEM).decode()


def instant(delta_seconds: float = 0) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=delta_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _id() -> str:
    return "_" + uuid.uuid4().hex


def sign(xml: str | bytes, key: str, cert: str, *, algorithm=C.RSA_SHA256, digest=C.SHA256) -> str:
    """Enveloped signature on the element's root (placed after its Issuer), like every IdP does."""
    signed = OneLogin_Saml2_Utils.add_sign(xml, key, cert, sign_algorithm=algorithm, digest_algorithm=digest)
    return signed.decode() if isinstance(signed, bytes) else signed


def encrypt_assertion(response_xml: str, sp_cert: str) -> str:
    """Replace the Assertion by an EncryptedAssertion (AES-128-CBC, key wrapped with RSA-OAEP to the SP cert)."""
    root = etree.fromstring(response_xml.encode())
    assertion = root.find(f"{{{SAML}}}Assertion")
    wrapper = etree.Element(f"{{{SAML}}}EncryptedAssertion")
    assertion.addprevious(wrapper)
    wrapper.append(assertion)
    enc_data = xmlsec.template.encrypted_data_create(
        root, xmlsec.constants.TransformAes128Cbc, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(enc_data)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(enc_data, ns="dsig")
    enc_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(enc_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_cert.encode(), xmlsec.constants.KeyDataFormatCertPem, None))
    ctx = xmlsec.EncryptionContext(manager)
    ctx.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, 128, xmlsec.constants.KeyDataTypeSession)
    ctx.encrypt_xml(enc_data, assertion)
    return etree.tostring(root).decode()


class TestIdP:
    __test__ = False  # not a pytest class

    def __init__(self, entity_id="https://idp.example.test/saml/metadata", *, sso_url="https://idp.example.test/sso",
                 slo_url="https://idp.example.test/slo"):  # fmt: skip
        self.entity_id, self.sso_url, self.slo_url = entity_id, sso_url, slo_url
        self.key, self.cert = keypair()

    def config(self, **overrides) -> dict:
        return {
            "idp_entity_id": self.entity_id, "idp_sso_url": self.sso_url, "idp_slo_url": self.slo_url,
            "idp_certificates": [self.cert], **overrides,
        }  # fmt: skip

    def assertion(self, *, audience, recipient, name_id, in_response_to=None, attributes=None, issuer=None,
                  not_before=UNSET, not_on_or_after=UNSET, scd_not_on_or_after=UNSET, assertion_id=None,
                  session_index="_session1", padding=0) -> str:  # fmt: skip
        nb = instant(-30) if not_before is UNSET else not_before
        nooa = instant(300) if not_on_or_after is UNSET else not_on_or_after
        scd_nooa = instant(300) if scd_not_on_or_after is UNSET else scd_not_on_or_after
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        cond_attrs = (f" NotBefore={quoteattr(nb)}" if nb else "") + (
            f" NotOnOrAfter={quoteattr(nooa)}" if nooa else ""
        )
        audiences = [] if audience is None else [audience] if isinstance(audience, str) else list(audience)
        restriction = (
            "<saml:AudienceRestriction>"
            + "".join(f"<saml:Audience>{escape(a)}</saml:Audience>" for a in audiences)
            + "</saml:AudienceRestriction>"
            if audiences
            else ""
        )
        attrs = dict(attributes or {})
        if padding:  # real IdPs send many claims; the benchmark pads to a realistic size
            attrs["padding"] = ["x" * 60 for _ in range(padding)]
        statement = "".join(
            f'<saml:Attribute Name={quoteattr(name)} NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
            + "".join(f'<saml:AttributeValue xsi:type="xs:string">{escape(v)}</saml:AttributeValue>' for v in values)
            + "</saml:Attribute>"
            for name, values in attrs.items()
        )
        recipient_attr = f" Recipient={quoteattr(recipient)}" if recipient else ""
        scd_nooa_attr = f" NotOnOrAfter={quoteattr(scd_nooa)}" if scd_nooa else ""
        return (
            f'<saml:Assertion xmlns:saml="{SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{assertion_id or _id()}" Version="2.0" '
            f'IssueInstant="{instant()}">'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            f'<saml:Subject><saml:NameID Format="{C.NAMEID_EMAIL_ADDRESS}">{escape(name_id)}</saml:NameID>'
            f'<saml:SubjectConfirmation Method="{C.CM_BEARER}">'
            f"<saml:SubjectConfirmationData{irt}{scd_nooa_attr}{recipient_attr}/>"
            "</saml:SubjectConfirmation></saml:Subject>"
            f"<saml:Conditions{cond_attrs}>{restriction}</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{instant()}" SessionIndex="{session_index}">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            + (f"<saml:AttributeStatement>{statement}</saml:AttributeStatement>" if statement else "")
            + "</saml:Assertion>"
        )

    def response(self, *, acs, audience, name_id, destination=UNSET, recipient=UNSET, in_response_to=None,
                 sign_assertion=True, sign_response=False, key=None, cert=None, algorithm=C.RSA_SHA256,
                 digest=C.SHA256, encrypt_to=None, issuer=None, status=C.STATUS_SUCCESS,
                 **assertion_kw) -> str:  # fmt: skip
        """A samlp:Response; by default the assertion is signed (as Entra and most IdPs do)."""
        key, cert = key or self.key, cert or self.cert
        assertion = self.assertion(
            audience=audience, recipient=acs if recipient is UNSET else recipient, name_id=name_id,
            in_response_to=in_response_to, issuer=issuer, **assertion_kw,
        )  # fmt: skip
        if sign_assertion:
            assertion = sign(assertion, key, cert, algorithm=algorithm, digest=digest)
        assertion = assertion.replace('<?xml version="1.0"?>', "").strip()
        dest = acs if destination is UNSET else destination
        dest_attr = f" Destination={quoteattr(dest)}" if dest else ""
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        xml = (
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{_id()}" Version="2.0" '
            f'IssueInstant="{instant()}"{dest_attr}{irt}>'
            f"<saml:Issuer>{escape(issuer or self.entity_id)}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>'
            f"{assertion}</samlp:Response>"
        )
        if encrypt_to:
            xml = encrypt_assertion(xml, encrypt_to)
        if sign_response:
            xml = sign(xml, key, cert, algorithm=algorithm, digest=digest)
        return xml

    @staticmethod
    def encode(xml: str | bytes) -> str:
        return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()

    def logout_request_query(self, *, destination, name_id, session_index="_session1", key=None) -> str:
        """A signed HTTP-Redirect LogoutRequest query string (signature over the encoded query, as the binding says)."""
        xml = (
            f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{_id()}" Version="2.0" '
            f'IssueInstant="{instant()}" Destination={quoteattr(destination)}>'
            f"<saml:Issuer>{escape(self.entity_id)}</saml:Issuer>"
            f'<saml:NameID Format="{C.NAMEID_EMAIL_ADDRESS}">{escape(name_id)}</saml:NameID>'
            f"<samlp:SessionIndex>{session_index}</samlp:SessionIndex></samlp:LogoutRequest>"
        )
        return self.redirect_query("SAMLRequest", xml, key=key)

    def redirect_query(self, param: str, xml: str, *, key=None, signed=True) -> str:
        encoded = OneLogin_Saml2_Utils.deflate_and_base64_encode(xml)
        query = urlencode({param: encoded})
        if not signed:
            return query
        query += "&" + urlencode({"SigAlg": C.RSA_SHA256})
        signature = xmlsec_sign_bytes(query.encode(), key or self.key)
        return query + "&" + urlencode({"Signature": base64.b64encode(signature).decode()})

    def metadata(self) -> str:
        body = "".join(self.cert.strip().splitlines()[1:-1])
        return (
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f"entityID={quoteattr(self.entity_id)}>"
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f"<ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
            "</md:KeyDescriptor>"
            f'<md:SingleLogoutService Binding="{C.BINDING_HTTP_REDIRECT}" Location={quoteattr(self.slo_url)}/>'
            f'<md:SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" Location={quoteattr(self.sso_url)}/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )


def xmlsec_sign_bytes(data: bytes, key_pem: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(key_pem.encode(), None)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
