//! Reading many names in one read of their domain (`list_many`), shared by
//! the providers that can list a whole domain (DNSPod, Alidns).

use super::{Record, RecordKey};

/// The domain every one of `keys` names, when there are two keys or more:
/// then one read of the domain may cost fewer calls than one per name.
pub(crate) fn one_domain(keys: &[RecordKey]) -> Option<&str> {
    let domain = keys.first()?.domain.as_str();
    (keys.len() > 1 && keys.iter().all(|k| k.domain == domain)).then_some(domain)
}

/// The records of each key among `items`, in the order of `keys`: an item
/// goes to every key it `matches` (two keys may name the same records).
pub(crate) fn pick<T>(
    items: Vec<T>,
    keys: &[RecordKey],
    matches: impl Fn(&T, &RecordKey) -> bool,
    into_record: impl Fn(T) -> Record,
) -> Vec<Vec<Record>> {
    let mut out = vec![Vec::new(); keys.len()];
    for item in items {
        let hits: Vec<usize> = (0..keys.len())
            .filter(|&i| matches(&item, &keys[i]))
            .collect();
        let Some((&last, rest)) = hits.split_last() else {
            continue;
        };
        let record = into_record(item);
        for &i in rest {
            out[i].push(record.clone());
        }
        out[last].push(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::RecordType;

    fn key(domain: &str, sub: &str) -> RecordKey {
        RecordKey {
            domain: domain.into(),
            subdomain: sub.into(),
            rtype: RecordType::A,
            line: "默认".into(),
        }
    }

    #[test]
    fn one_domain_needs_two_keys_of_the_same_domain() {
        assert_eq!(one_domain(&[]), None);
        assert_eq!(one_domain(&[key("a.com", "x")]), None);
        assert_eq!(
            one_domain(&[key("a.com", "x"), key("a.com", "y")]),
            Some("a.com")
        );
        assert_eq!(one_domain(&[key("a.com", "x"), key("b.com", "y")]), None);
    }

    #[test]
    fn items_go_to_every_key_they_match_in_key_order() {
        let keys = [key("a.com", "x"), key("a.com", "y"), key("a.com", "x")];
        let items = vec![("y", "1"), ("x", "2"), ("z", "3")];
        let out = pick(
            items,
            &keys,
            |(sub, _), k| k.subdomain == *sub,
            |(_, id)| Record {
                id: id.into(),
                value: String::new(),
                ttl: 60,
                enabled: true,
                updated_on: None,
                remark: String::new(),
                weight: None,
            },
        );
        let ids: Vec<Vec<&str>> = out
            .iter()
            .map(|rs| rs.iter().map(|r| r.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["2"], vec!["1"], vec!["2"]]);
    }
}
