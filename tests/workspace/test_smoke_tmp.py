from tests.workspace.world import sign_in_page


def test_pages_render(client, world):
    sign_in_page(client, "admin@example.org")
    for url in [
        "/staff/studies/fatigue/",
        "/staff/studies/fatigue/participants/",
        "/staff/studies/fatigue/participants/new",
        "/staff/studies/fatigue/participants/LYON-0001",
        "/staff/studies/fatigue/participants/LYON-0001/invite",
        "/staff/studies/fatigue/participants/LYON-0001/pause",
        "/staff/studies/fatigue/participants/LYON-0001/withdraw",
        "/staff/studies/fatigue/participants/LYON-0001/caregivers/new",
        "/staff/studies/fatigue/alerts/",
        "/staff/studies/fatigue/adherence/",
        "/staff/studies/fatigue/alerts/count.json",
    ]:
        r = client.get(url)
        r.get_data()
        assert r.status_code == 200, (url, r.get_data(as_text=True)[:3000])
