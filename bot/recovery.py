"""Recovery phrases: words on paper that link a new phone to the same record.

Phones are often stolen. A person who saved a record gets four common words and a
number; sent from a new phone or another channel, they link the new address to the same
contact, and cut off the addresses linked before (the stolen phone gets a fresh, empty
contact). Only an HMAC of the phrase is stored, and tries are limited per sender.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import redis

from bot import crypto, keys
from bot.content.pack import normalize

# 256 short Spanish words without accents, easy to write by hand: 8 bits each.
WORDS = (
    "agua", "aire", "arbol", "arena", "arroz", "azul", "banco", "barco", "bolsa", "bosque",
    "brazo", "burro", "caballo", "cabra", "cafe", "caja", "calle", "cama", "camino", "campo",
    "cancion", "canoa", "casa", "cebolla", "cena", "cerca", "cerro", "cielo", "cine", "circo",
    "clavo", "cobre", "cocina", "collar", "color", "conejo", "copa", "corazon", "cuerda",
    "cuna", "dedo", "diente", "disco", "dulce", "elote", "escoba", "espejo", "estrella",
    "falda", "faro", "fiesta", "flor", "foco", "fresa", "fruta", "fuego", "gallo", "ganso",
    "gato", "globo", "gorra", "grano", "guitarra", "hacha", "harina", "hielo", "hierba",
    "higo", "hilo", "hoja", "horno", "huevo", "isla", "jabon", "jardin", "jarra", "jugo",
    "lago", "lana", "lapiz", "leche", "libro", "limon", "lluvia", "lobo", "luna", "madera",
    "maiz", "mango", "manta", "mapa", "mar", "martes", "mesa", "miel", "mono", "monte",
    "mosca", "nariz", "nido", "nieve", "noche", "nube", "nuez", "oliva", "olla", "oro", "oso",
    "pajaro", "palma", "pan", "papel", "parque", "pato", "pelota", "pera", "perro", "piedra",
    "pino", "pipa", "plato", "playa", "pluma", "pollo", "puente", "puerta", "queso", "radio",
    "rama", "rana", "raton", "regalo", "reloj", "rio", "roca", "rosa", "rueda", "sal", "salsa",
    "selva", "silla", "sol", "sombra", "sopa", "taco", "taza", "techo", "tela", "tierra",
    "tigre", "tomate", "toro", "trigo", "tren", "tuna", "uva", "vaca", "valle", "vaso", "vela",
    "venado", "ventana", "verde", "vino", "viento", "volcan", "yegua", "zapato", "zorro",
    "abeja", "aguila", "ancla", "anillo", "arco", "arpa", "bala", "ballena", "bandera",
    "barro", "baul", "bota", "brisa", "buho", "cacao", "cadena", "calor", "camion", "canela",
    "carta", "cepillo", "cerdo", "chile", "choza", "clima", "cometa", "concha", "coral",
    "costa", "cruz", "cubo", "cueva", "dado", "delfin", "duna", "espiga", "fila", "foca",
    "frijol", "gota", "grillo", "hamaca", "hongo", "iman", "joya", "lente", "llave", "loro",
    "lupa", "malva", "manzana", "marco", "menta", "milpa", "molino", "moneda", "nopal", "nota",
    "ola", "palo", "panal", "pasto", "patio", "perla", "pez", "pozo", "prado", "pulpo", "rayo",
    "red", "remo", "risa", "ruta", "sapo", "semilla", "sierra", "sobre", "soga", "suelo",
    "tambor", "tapete", "tejado", "tinta", "tortuga", "trueno", "tubo", "vapor",
)
TRIES_PER_HOUR = 5


def new_phrase() -> str:
    """Four random words and a two-digit number: about 39 bits, enough with limited tries."""
    picked = [secrets.choice(WORDS) for _ in range(4)]
    return " ".join([*picked, f"{secrets.randbelow(100):02d}"])


class Recovery:
    """Issues phrases and links addresses to the contact a phrase belongs to."""

    def __init__(self, client: redis.Redis, master: bytes):
        self.redis = client
        self._key = crypto.derive(master, b"faro recovery phrases v1")

    def mac(self, phrase: str) -> str:
        """The stored form of a phrase: an HMAC of its normalized words."""
        words = " ".join(normalize(phrase).replace("-", " ").split())
        return hmac.new(self._key, words.encode(), hashlib.sha256).hexdigest()

    def issue(self, cid: str) -> str:
        """A new phrase for contact `cid`; the previous one stops working."""
        phrase = new_phrase()
        old = self.redis.hget(keys.contact(cid), "rp")
        pipe = self.redis.pipeline(transaction=True)
        if old:
            pipe.delete(keys.recovery(old.decode()))
        pipe.set(keys.recovery(self.mac(phrase)), cid)
        pipe.hset(keys.contact(cid), "rp", self.mac(phrase))
        pipe.execute()
        return phrase

    def allowed(self, sender: str) -> bool:
        """Count one try by `sender`; False past the hourly limit."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(keys.attempts("recover", sender))
        pipe.expire(keys.attempts("recover", sender), 3600, nx=True)
        return pipe.execute()[0] <= TRIES_PER_HOUR

    def owner(self, phrase: str) -> str | None:
        """The contact a phrase belongs to, or None."""
        found = self.redis.get(keys.recovery(self.mac(phrase)))
        return found.decode() if found else None

    def link(self, direct: str, home: str, sealed_address: bytes, key_space: str) -> None:
        """Route address `direct` to contact `home`, and cut off every other address."""
        linked = [m.decode() for m in self.redis.smembers(keys.aliases(home))]
        pipe = self.redis.pipeline(transaction=True)
        for other in linked:
            pipe.delete(keys.alias(other))
        pipe.delete(keys.aliases(home))
        if direct != home:
            pipe.set(keys.alias(direct), home)
            pipe.sadd(keys.aliases(home), direct)
            # The home's own address (the old phone) no longer reaches the record.
            pipe.hset(keys.contact(home), "b", "1")
        else:
            pipe.hdel(keys.contact(home), "b")
        pipe.hset(keys.contact(home), mapping={"a": sealed_address, "ch": key_space})
        pipe.execute()

    def forget(self, cid: str) -> None:
        """Remove a contact's phrase and links (when the contact is deleted)."""
        phrase = self.redis.hget(keys.contact(cid), "rp")
        linked = [m.decode() for m in self.redis.smembers(keys.aliases(cid))]
        pipe = self.redis.pipeline(transaction=True)
        if phrase:
            pipe.delete(keys.recovery(phrase.decode()))
        for other in linked:
            pipe.delete(keys.alias(other))
        pipe.delete(keys.aliases(cid))
        pipe.execute()
