#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Write a deterministic French Android WhatsApp export of N messages.

    bench/gen-whatsapp-export.py N OUTPUT.txt [--seed S]

Same N and seed give the same bytes.  The mix resembles a real group chat:
multi-line messages, media placeholders, attachments, deleted/edited
markers, system lines, accents and emoji, phone-number senders."""
import argparse
import datetime
import random

SENDERS = ["Maître Durand", "Claire Martin", "Paul", "+33 6 12 34 56 78", "Élodie 🌸",
           "Jean-Baptiste Lefèvre", "+32 470 12 34 56", "Secrétariat"]
WORDS = ("le la les un une des dossier audience client rendez-vous demain matin "
         "tribunal pièce signature contrat délai urgent réunion merci bonjour "
         "d'accord parfait voilà été déjà très bien à côté où ça 👍 😀").split()


def sentence(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 18)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("count", type=int)
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t = datetime.datetime(2019, 1, 13, 8, 0)
    with open(args.output, "w", encoding="utf-8", newline="\n") as out:
        out.write(t.strftime("%d/%m/%Y à %H:%M") + " - Les messages et les appels sont "
                  "chiffrés de bout en bout. Aucun tiers, pas même WhatsApp, ne peut les "
                  "lire ou les écouter.\n")
        for i in range(args.count - 1):
            t += datetime.timedelta(seconds=rng.randint(5, 900))
            head = t.strftime("%d/%m/%Y à %H:%M") + " - "
            r = rng.random()
            who = rng.choice(SENDERS)
            if r < 0.02:
                out.write(head + f"{who} a ajouté {rng.choice(SENDERS)}\n")
            elif r < 0.07:
                out.write(head + who + ": <Médias omis>\n")
            elif r < 0.10:
                out.write(head + who + f": IMG-{t:%Y%m%d}-WA{i % 10000:04d}.jpg (fichier joint)\n")
            elif r < 0.11:
                out.write(head + who + ": Ce message a été supprimé\n")
            elif r < 0.13:
                out.write(head + who + ": " + sentence(rng) + " <Ce message a été modifié>\n")
            elif r < 0.23:
                lines = [sentence(rng) for _ in range(rng.randint(2, 5))]
                out.write(head + who + ": " + "\n".join(lines) + "\n")
            else:
                out.write(head + who + ": " + sentence(rng) + "\n")


if __name__ == "__main__":
    main()
