"""A real OpenLDAP server for the LDAP tests: python-ldap's slapdtest with certificates made here.

Each pytest-xdist worker starts its own slapd (slapdtest picks a free port and a run directory named after it).
The server speaks plain LDAP and StartTLS on that port, and LDAPS on a second one (`ldaps_uri`; slapdtest opens
no LDAPS port itself); its certificate is issued by a CA generated here, so a test can trust it (verification on)
or trust another CA and see the connection refused.
"""

import datetime
import ipaddress
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import ldap
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from slapdtest import SlapdObject

SUFFIX = "dc=acme,dc=test"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SERVICE_DN = f"cn=chatapp,{SUFFIX}"
SERVICE_PASSWORD = "service-bind-secret-7"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def make_server_cert(ca_key, ca_cert) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class TestDirectory(SlapdObject):
    """slapd with the schemas people and groups need, its data and certificates in a private temporary directory."""

    __test__ = False  # not a pytest test class
    suffix = SUFFIX
    root_cn = "admin"
    root_pw = "root-secret-7"
    slapd_loglevel = "0"
    # msuser: Active Directory's user and group classes (userAccountControl, groupType), to test AD mode.
    openldap_schema_files = ("core.ldif", "cosine.ldif", "inetorgperson.ldif", "nis.ldif", "msuser.ldif")

    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="chatapp-slapd-"))
        self.TMPDIR = str(self.workdir)  # slapdtest's default is the current directory
        super().__init__()
        ca_key, ca_cert = make_ca("chatapp test directory CA")
        key, cert = make_server_cert(ca_key, ca_cert)
        self.ca_pem = pem(ca_cert)
        self.cafile = str(self.workdir / "ca.pem")
        self.servercert = str(self.workdir / "server.pem")
        self.serverkey = str(self.workdir / "server.key")
        Path(self.cafile).write_text(self.ca_pem)
        Path(self.servercert).write_text(pem(cert))
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        Path(self.serverkey).write_bytes(key_pem)

    def stop(self):
        super().stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _start_slapd(self):
        """slapdtest's start, with an ldaps:// listener next to its ldap:// one."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.ldaps_uri = f"ldaps://127.0.0.1:{probe.getsockname()[1]}"
        urls = [self.ldap_uri, self.ldaps_uri] + ([self.ldapi_uri] if self.ldapi_uri else [])
        self._proc = subprocess.Popen([self.PATH_SLAPD, "-F", self._slapd_conf, "-h", " ".join(urls), "-d", "0"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._stopped()
                raise RuntimeError("slapd exited before opening its ports")
            try:
                self.ldapwhoami()
                return
            except RuntimeError:
                time.sleep(0.2)
        raise RuntimeError("slapd did not start properly")

    # --- data (through python-ldap as the root DN: faster than the CLI tools, and slapd 2.5 crashes on a
    # recursive ldapdelete of a missing entry) ---------------------------------------------------------------

    def admin(self):
        conn = ldap.initialize(self.ldap_uri)
        conn.simple_bind_s(self.root_dn, self.root_pw)
        return conn

    def reset(self):
        """The base tree with the service account and no people or groups (each test adds its own)."""
        conn = self.admin()
        try:
            entries = conn.search_s(SUFFIX, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["1.1"])
        except ldap.NO_SUCH_OBJECT:
            entries = []
        for dn, _ in sorted(entries, key=lambda entry: -len(ldap.dn.str2dn(entry[0]))):  # leaves first
            conn.delete_s(dn)
        self._add(conn, SUFFIX, objectClass=["dcObject", "organization"], dc="acme", o="Acme")
        self._add(conn, PEOPLE, objectClass="organizationalUnit", ou="people")
        self._add(conn, GROUPS, objectClass="organizationalUnit", ou="groups")
        self._add(
            conn, SERVICE_DN, objectClass=["person", "simpleSecurityObject"], cn="chatapp", sn="service",
            userPassword=SERVICE_PASSWORD,
        )  # fmt: skip
        conn.unbind_s()

    @staticmethod
    def _add(conn, dn, **attributes):
        conn.add_s(dn, [(name, [v.encode() for v in (value if isinstance(value, list) else [value])])
                        for name, value in attributes.items()])  # fmt: skip

    def add_person(self, uid: str, *, password: str, mail: str, cn: str, uid_number: int = 10000) -> str:
        dn = f"uid={uid},{PEOPLE}"
        conn = self.admin()
        self._add(
            conn, dn, objectClass=["inetOrgPerson", "posixAccount"], uid=uid, cn=cn, sn=cn.split()[-1], mail=mail,
            userPassword=password, uidNumber=str(uid_number), gidNumber=str(uid_number), homeDirectory=f"/home/{uid}",
        )  # fmt: skip
        conn.unbind_s()
        return dn

    def add_group(self, cn: str, members: list[str]) -> str:
        """A groupOfNames (members are DNs; the schema wants at least one, so an empty group names the service)."""
        dn = f"cn={cn},{GROUPS}"
        conn = self.admin()
        self._add(conn, dn, objectClass="groupOfNames", cn=cn, member=list(members) or [SERVICE_DN])
        conn.unbind_s()
        return dn

    def add_posix_group(self, cn: str, member_uids: list[str], gid: int) -> str:
        dn = f"cn={cn},{GROUPS}"
        conn = self.admin()
        self._add(conn, dn, objectClass="posixGroup", cn=cn, gidNumber=str(gid), memberUid=list(member_uids))
        conn.unbind_s()
        return dn

    # Active Directory look-alikes (msuser schema): attributes AD itself would fill in are given by hand.
    _AD_REQUIRED = {"instanceType": "4", "nTSecurityDescriptor": "test"}

    def add_ad_user(self, cn: str, *, password: str, mail: str, disabled: bool = False) -> str:
        dn = f"cn={cn},{PEOPLE}"
        conn = self.admin()
        self._add(
            conn, dn, objectClass="user", cn=cn, sn=cn, mail=mail, userPrincipalName=mail, userPassword=password,
            userAccountControl=str(512 | (2 if disabled else 0)), objectCategory="cn=Person", **self._AD_REQUIRED,
        )  # fmt: skip
        conn.unbind_s()
        return dn

    def add_ad_group(self, cn: str, members: list[str]) -> str:
        dn = f"cn={cn},{GROUPS}"
        conn = self.admin()
        self._add(
            conn, dn, objectClass="group", cn=cn, groupType="-2147483646", member=list(members) or [SERVICE_DN],
            objectCategory="cn=Group", **self._AD_REQUIRED,
        )  # fmt: skip
        conn.unbind_s()
        return dn

    def set_members(self, group_dn: str, members: list[str]):
        self.modify(group_dn, "member", list(members) or [SERVICE_DN])

    def modify(self, dn: str, attribute: str, value):
        values = [v.encode() for v in (value if isinstance(value, list) else [value])]
        conn = self.admin()
        conn.modify_s(dn, [(ldap.MOD_REPLACE, attribute, values)])
        conn.unbind_s()

    def delete(self, dn: str):
        conn = self.admin()
        conn.delete_s(dn)
        conn.unbind_s()
